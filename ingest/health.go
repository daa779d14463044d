package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Kinds of fault, the label of tape_ingest_faults_total.
const (
	FaultStarting = "starting" // topics not there yet
	FaultBroker   = "broker"   // no broker answers
	FaultStall    = "stall"    // a partition cannot progress
	FaultRefused  = "refused"  // a topic refuses writes for good
	FaultLayout   = "layout"   // partitions were added while running
)

// Fault is one reason an ingester is not ready.
type Fault struct {
	Kind  string    `json:"kind"`
	Cause string    `json:"cause"`
	Since time.Time `json:"since"`
}

// health keeps an ingester's faults. Each fault is logged once when it
// begins, with its cause, and once when it ends; the ingester is ready
// when it has none.
type health struct {
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex          // guards the fields below
	faults map[string]*fault   // by id
	counts map[string]int64    // faults begun, by kind
	lanes  map[string]*laneRec // work in progress, by name
}

type fault struct {
	Fault
	// expires, if set, ends the fault unless it is raised again.
	expires time.Time
	// logged says its start was logged, so its end is too.
	logged bool
}

type laneRec struct {
	busy  bool
	since time.Time
	what  string
	err   error
}

func newHealth(log *slog.Logger) *health {
	return &health{log: log, now: time.Now, faults: map[string]*fault{}, counts: map[string]int64{}, lanes: map[string]*laneRec{}}
}

// raise sets the fault id (of kind, with cause). A fault raised again
// keeps its start and takes the newer cause; ttl > 0 ends it ttl after
// its last raise.
func (h *health) raise(id, kind, cause string, ttl time.Duration) {
	h.raiseLogged(id, kind, cause, ttl, true)
}

// raiseLogged is raise, but without log is silent: for the start-up
// fault, which only deserves a line if it lasts.
func (h *health) raiseLogged(id, kind, cause string, ttl time.Duration, log bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	f := h.faults[id]
	if f == nil {
		f = &fault{Fault: Fault{Kind: kind, Cause: cause, Since: now}}
		h.faults[id] = f
		h.counts[kind]++
	}
	if log && !f.logged {
		f.logged = true
		h.log.Warn("ingest: not ready: "+cause, "fault", kind)
	}
	f.Cause = cause
	f.expires = time.Time{}
	if ttl > 0 {
		f.expires = now.Add(ttl)
	}
}

// clear ends the fault id, if it is set.
func (h *health) clear(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clearLocked(id, h.now())
}

func (h *health) clearLocked(id string, now time.Time) {
	f := h.faults[id]
	if f == nil {
		return
	}
	delete(h.faults, id)
	if !f.logged {
		return
	}
	h.log.Info("ingest: recovered: "+f.Cause, "fault", f.Kind, "after", now.Sub(f.Since).Round(time.Millisecond))
}

// Faults returns the current faults, oldest first.
func (h *health) Faults() []Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for id, f := range h.faults {
		if !f.expires.IsZero() && now.After(f.expires) {
			h.clearLocked(id, now)
		}
	}
	out := make([]Fault, 0, len(h.faults))
	for _, f := range h.faults {
		out = append(out, f.Fault)
	}
	slices.SortFunc(out, func(a, b Fault) int { return a.Since.Compare(b.Since) })
	return out
}

// counted returns how many faults of each kind began.
func (h *health) counted() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.counts)
}

// lane tracks one piece of work that must keep progressing: the
// normaliser's batches, or one owned partition of the fold.
type lane struct {
	h    *health
	name string
}

func (h *health) lane(name string) lane {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lanes[name] = &laneRec{}
	return lane{h, name}
}

// begin marks the lane busy with what; done marks it idle again.
func (l lane) begin(what string) {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	if r := l.h.lanes[l.name]; r != nil {
		*r = laneRec{busy: true, since: l.h.now(), what: what}
	}
}

// failed records the latest error of the lane's work, the cause a stall
// report gives.
func (l lane) failed(err error) {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	if r := l.h.lanes[l.name]; r != nil {
		r.err = err
	}
}

func (l lane) done() {
	l.h.mu.Lock()
	if r := l.h.lanes[l.name]; r != nil {
		r.busy = false
	}
	l.h.mu.Unlock()
	l.h.clear("stall " + l.name)
}

// remove forgets the lane (its partition was revoked).
func (l lane) remove() {
	l.h.mu.Lock()
	delete(l.h.lanes, l.name)
	l.h.mu.Unlock()
	l.h.clear("stall " + l.name)
}

// checkStalls raises a stall fault for every lane busy for longer than
// after, naming what it is stuck on and its latest error.
func (h *health) checkStalls(after time.Duration) {
	h.mu.Lock()
	now := h.now()
	type stalled struct{ name, cause string }
	var found []stalled
	for name, r := range h.lanes {
		if r.busy && now.Sub(r.since) >= after {
			cause := fmt.Sprintf("%s cannot progress: %s for %s", name, r.what, now.Sub(r.since).Round(time.Second))
			if r.err != nil {
				cause += ": " + r.err.Error()
			}
			found = append(found, stalled{name, cause})
		}
	}
	h.mu.Unlock()
	for _, s := range found {
		h.raise("stall "+s.name, FaultStall, s.cause, 0)
	}
}

// watch checks stalls and probes the brokers every interval until ctx
// ends. A broker that has not answered for brokerTimeout is a fault.
func (h *health) watch(ctx context.Context, brokers []string, stallAfter, brokerTimeout time.Duration) {
	const interval = time.Second
	// Its own transport: the shared one serves metadata from a cache, and
	// a probe must reach a broker.
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: brokerTimeout, Transport: &kafka.Transport{DialTimeout: brokerTimeout, IdleTimeout: 10 * time.Second}}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()
	lastOK := h.now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, brokerTimeout)
		_, err := client.ApiVersions(pctx, &kafka.ApiVersionsRequest{})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			lastOK = h.now()
			h.clear("broker")
		} else if h.now().Sub(lastOK) >= brokerTimeout {
			h.raise("broker", FaultBroker, fmt.Sprintf("no broker of %v answers: %v", brokers, err), 0)
		}
		h.checkStalls(stallAfter)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
