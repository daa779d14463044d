package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"tape"
)

// folder is the fold state of one symbol: what the fold stage needs of
// the domain's per-symbol fold. It must be deterministic: the same
// checkpoint and the same events always give the same quotes, which is
// what makes a refold after a crash repeat exactly what was produced.
type folder interface {
	// Apply folds ev into the state and reports whether it changed the
	// quote; false (a repeat, say) produces no quote.
	Apply(ev *tape.Event) bool
	// Quote returns the current quote.
	Quote() tape.Quote
	// AppendCheckpoint appends the state as one JSON object that
	// restoreFolder reads back and that tape.ParseQuote reads as the
	// current quote (web nodes seed their last values from it).
	AppendCheckpoint(dst []byte) []byte
}

// newFolder returns the state of a symbol that has none yet.
func newFolder(sym tape.Symbol) folder {
	return &sumFolder{q: tape.Quote{Symbol: sym}}
}

// restoreFolder reads a checkpoint written by AppendCheckpoint, or a
// plain quote as written before checkpoints existed.
func restoreFolder(b []byte) (folder, error) {
	return restoreSumFolder(b)
}

var _ folder = (*sumFolder)(nil)

// sumFolder folds with tape.Quote.Apply, volume being the sum of trade
// sizes. It drops an event whose origin is not newer than the newest
// already folded from the same raw partition (a repeat after a crash); it
// knows nothing of trade ids, cancels or sale conditions. It stands in
// for the domain's fold type until that exists.
type sumFolder struct {
	q tape.Quote
	// seen is the newest origin folded per raw partition.
	seen map[int]tape.OriginPos
}

func (f *sumFolder) Apply(ev *tape.Event) bool {
	if _, pos, ok := tape.ParseOrigin(ev.Origin); ok {
		if last, ok := f.seen[pos.Partition]; ok && !last.Before(pos) {
			return false
		}
		if f.seen == nil {
			f.seen = make(map[int]tape.OriginPos, 1)
		}
		f.seen[pos.Partition] = pos
	}
	e := *ev
	// Volume is the sum of sizes; statistics a vendor stamped are not
	// taken over.
	e.Volume, e.Open, e.High, e.Low = 0, 0, 0, 0
	f.q.Apply(&e)
	return true
}

func (f *sumFolder) Quote() tape.Quote { return f.q }

// AppendCheckpoint appends the quote's JSON with the origins seen, as
// "seen":[[partition,offset,index],...] in partition order.
func (f *sumFolder) AppendCheckpoint(dst []byte) []byte {
	dst = f.q.AppendJSON(dst)
	dst = dst[:len(dst)-1]
	dst = append(dst, `,"seen":[`...)
	parts := make([]int, 0, len(f.seen))
	for p := range f.seen {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, ',')
		}
		pos := f.seen[p]
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(p), 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, pos.Offset, 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, int64(pos.Index), 10)
		dst = append(dst, ']')
	}
	return append(dst, "]}"...)
}

func restoreSumFolder(b []byte) (*sumFolder, error) {
	q, err := tape.ParseQuote(b)
	if err != nil {
		return nil, err
	}
	var extra struct {
		Seen [][3]int64 `json:"seen"`
	}
	if err := json.Unmarshal(b, &extra); err != nil {
		return nil, fmt.Errorf("ingest: checkpoint of %s: %w", q.Symbol, err)
	}
	f := &sumFolder{q: q}
	for _, s := range extra.Seen {
		if f.seen == nil {
			f.seen = make(map[int]tape.OriginPos, len(extra.Seen))
		}
		f.seen[int(s[0])] = tape.OriginPos{Partition: int(s[0]), Offset: s[1], Index: int(s[2])}
	}
	return f, nil
}
