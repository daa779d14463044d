package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// Heartbeats: every web node and every ingester produces a record keyed by
// its id to a small compacted topic (tape.TopicNodes) every few seconds,
// and reads the topic, so that each knows the others without
// configuration. Pages get the web nodes as an "event: nodes", which is
// what lets a page move to another node when its own is gone.

// Defaults for heartbeats.
const (
	// DefaultHeartbeatEvery is how often a process says it is alive.
	DefaultHeartbeatEvery = 2 * time.Second
	// MaxNodes bounds the processes a node keeps track of.
	MaxNodes = 256
)

// fresh reports whether hb is still alive at now: neither its own time
// nor when it arrived is more than three intervals ago.
func (e nodeEntry) fresh(now time.Time) bool {
	ttl := 3 * time.Duration(e.hb.EveryMS) * time.Millisecond
	return now.Sub(e.hb.At) < ttl+time.Second && now.Sub(e.seen) < ttl
}

type nodeEntry struct {
	hb   tape.Heartbeat
	seen time.Time // this process's clock when it arrived
}

// Nodes is the list of processes heard from on the heartbeat topic. Its
// methods are safe for concurrent use.
type Nodes struct {
	mu      sync.Mutex // guards the fields below
	entries map[string]nodeEntry
	web     string // the web list last reported to onWeb
	onWeb   func(web []tape.Heartbeat)
}

// NewNodes returns an empty list; onWeb, if set, is called (from Follow's
// goroutine) whenever the set of live web nodes, their URLs or readiness
// change.
func NewNodes(onWeb func(web []tape.Heartbeat)) *Nodes {
	return &Nodes{entries: map[string]nodeEntry{}, onWeb: onWeb}
}

// Put records a heartbeat (or, with del, that the process left).
func (n *Nodes) Put(hb tape.Heartbeat, del bool, now time.Time) {
	n.mu.Lock()
	if del {
		delete(n.entries, hb.ID)
	} else if _, ok := n.entries[hb.ID]; ok || len(n.entries) < MaxNodes {
		n.entries[hb.ID] = nodeEntry{hb: hb, seen: now}
	}
	n.mu.Unlock()
	n.check(now)
}

// List returns the live processes, web nodes first, each by id.
func (n *Nodes) List(now time.Time) []tape.Heartbeat {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.listLocked(now)
}

func (n *Nodes) listLocked(now time.Time) []tape.Heartbeat {
	out := make([]tape.Heartbeat, 0, len(n.entries))
	for id, e := range n.entries {
		if !e.fresh(now) {
			if now.Sub(e.seen) > time.Hour {
				delete(n.entries, id)
			}
			continue
		}
		out = append(out, e.hb)
	}
	slices.SortFunc(out, func(a, b tape.Heartbeat) int {
		if a.Role != b.Role {
			return strings.Compare(b.Role, a.Role) // web before ingest
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// check calls onWeb if the live web nodes changed.
func (n *Nodes) check(now time.Time) {
	if n.onWeb == nil {
		return
	}
	n.mu.Lock()
	var web []tape.Heartbeat
	var key strings.Builder
	for _, hb := range n.listLocked(now) {
		if hb.Role == tape.RoleWeb && hb.URL != "" {
			web = append(web, hb)
			fmt.Fprintf(&key, "%s %s %v\n", hb.ID, hb.URL, hb.Ready)
		}
	}
	changed := key.String() != n.web
	n.web = key.String()
	n.mu.Unlock()
	if changed {
		n.onWeb(web)
	}
}

// NodesConfig says where heartbeats go.
type NodesConfig struct {
	Brokers []string
	Topic   string        // default tape.TopicNodes
	Every   time.Duration // default DefaultHeartbeatEvery
	Logger  *slog.Logger
}

func (c NodesConfig) withDefaults() NodesConfig {
	if c.Topic == "" {
		c.Topic = tape.TopicNodes
	}
	if c.Every <= 0 {
		c.Every = DefaultHeartbeatEvery
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Publish produces state() as this process's heartbeat every cfg.Every
// until ctx ends, then a tombstone, so that the others drop it at once
// rather than after it ages out. Failures are logged at debug level and
// retried on the next beat: a heartbeat is never worth stopping for.
func Publish(ctx context.Context, cfg NodesConfig, state func() tape.Heartbeat) {
	cfg = cfg.withDefaults()
	w := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.Topic, Balancer: &kafka.CRC32Balancer{},
		BatchTimeout: time.Millisecond, WriteTimeout: cfg.Every, MaxAttempts: 1,
		AllowAutoTopicCreation: false, Transport: &kafka.Transport{},
	}
	defer w.Close()
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	var id string
	for {
		hb := state()
		hb.At, hb.EveryMS, id = time.Now().UTC(), cfg.Every.Milliseconds(), hb.ID
		if b, err := json.Marshal(hb); err == nil {
			wctx, cancel := context.WithTimeout(ctx, cfg.Every)
			if err := w.WriteMessages(wctx, kafka.Message{Key: []byte(hb.ID), Value: b}); err != nil && ctx.Err() == nil {
				cfg.Logger.Debug("stream: heartbeat", "topic", cfg.Topic, "err", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.Background(), time.Second)
			w.WriteMessages(wctx, kafka.Message{Key: []byte(id)}) // a tombstone
			cancel()
			return
		case <-t.C:
		}
	}
}

// Follow reads the heartbeat topic from its start into n until ctx ends,
// and ages out silent processes. A topic that does not exist yet is waited
// for.
func (n *Nodes) Follow(ctx context.Context, cfg NodesConfig) {
	cfg = cfg.withDefaults()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	parts, _, err := waitTopic(ctx, client, cfg.Topic, cfg.Logger, func(error) {})
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for p := range parts {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := n.followPartition(ctx, cfg, p)
				if ctx.Err() != nil {
					return
				}
				cfg.Logger.Debug("stream: reading heartbeats again", "partition", p, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		})
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n.check(now)
		}
	}
}

func (n *Nodes) followPartition(ctx context.Context, cfg NodesConfig, p int) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topic, Partition: p,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: DefaultMaxWait,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return err
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if m.Value == nil {
			if tape.ValidNodeID(string(m.Key)) {
				n.Put(tape.Heartbeat{ID: string(m.Key)}, true, time.Now())
			}
			continue
		}
		hb, err := tape.ParseHeartbeat(m.Value)
		if err != nil || hb.ID != string(m.Key) {
			continue
		}
		n.Put(hb, false, time.Now())
	}
}

// NodesEvent returns the data of an "event: nodes" listing web:
// {"nodes":[heartbeat, …]}.
func NodesEvent(web []tape.Heartbeat) []byte {
	if web == nil {
		web = []tape.Heartbeat{}
	}
	b, _ := json.Marshal(struct {
		Nodes []tape.Heartbeat `json:"nodes"`
	}{web})
	return b
}

// SetNodes sets the list of live web nodes that every stream gets as an
// "event: nodes" (no id): now, and first thing when it opens. data is the
// event's JSON.
func (h *Hub) SetNodes(data []byte) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.newFrameLocked("nodes", nil, data)
	f.seq, f.partition, f.offset, f.key = h.seq, -1, -1, keyNodes
	h.nodes = f
	h.broadcastLocked(f, now)
}
