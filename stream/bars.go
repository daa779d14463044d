package stream

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
)

// Bars a node keeps per symbol for charts, built from the trades the
// quotes report (tape.Quote.Print). A symbol that trades every second of
// an extended US session fills both: (600 + 960) × 64 B plus 100 trades
// × 48 B ≈ 105 KB, the most one symbol's chart costs; Config.MaxCharts
// bounds how many symbols have one. Slices grow as bars come, so a quiet
// symbol costs what it trades.
const (
	// SecondBarsKept is how many 1-second bars are kept: the last 10
	// minutes of trading.
	SecondBarsKept = 600
	// MinuteBarsKept is how many 1-minute bars are kept: 16 hours, a
	// whole extended US equity session (04:00 to 20:00 New York).
	MinuteBarsKept = 960
	// TradesKept is how many trades of a symbol time and sales keeps.
	TradesKept = 100
)

// ErrBarWidth is returned by Hub.Bars for a width other than 1 or 60 s.
var ErrBarWidth = errors.New("stream: bars are 1 or 60 seconds wide")

// Bar is one candle: the open, high, low and close of the trades in
// [Time, Time+width) that count for high and low (sale conditions), and
// the volume of those that count for volume. Prices are zero when only
// volume-only trades (odd lots, say) fell in it. Time is in Unix seconds.
type Bar struct {
	Time                   int64
	Open, High, Low, Close tape.Price
	Volume                 tape.Size
	// Feed times (Unix ns) of Open and Close, so a late report that is
	// earlier or later within the bar moves them right.
	openAt, closeAt int64
}

// barSeries is one symbol's bars of one width, oldest first in
// bars[head:], at most limit. Guarded by the hub's lock.
type barSeries struct {
	bars []Bar
	head int
}

// add counts print p in the bar of its time. A print older than the oldest
// bar kept is left out; a late one goes into its own bar, in place.
func (s *barSeries) add(p tape.Print, width int64, limit int) {
	at := p.Time.UnixNano()
	start := p.Time.Unix() - floorMod(p.Time.Unix(), width)
	live := s.bars[s.head:]
	i := len(live)
	if i == 0 || live[i-1].Time < start {
		// the common case: a new bar at the end
		s.bars = append(s.bars, Bar{Time: start})
		if len(s.bars)-s.head > limit {
			s.head++
		}
		s.compact()
		live = s.bars[s.head:]
		i = len(live) - 1
	} else {
		i = sort.Search(len(live), func(k int) bool { return live[k].Time >= start })
		if i == len(live) || live[i].Time != start {
			if i == 0 && len(live) >= limit {
				return // older than every bar kept
			}
			s.bars = slices.Insert(s.bars, s.head+i, Bar{Time: start})
			if len(s.bars)-s.head > limit {
				s.head++
				i--
			}
			s.compact()
			live = s.bars[s.head:]
		}
	}
	b := &live[i]
	if p.Counts&tape.UpdatesVolume != 0 {
		b.Volume = addSize(b.Volume, p.Size)
	}
	if p.Counts&tape.UpdatesHighLow == 0 {
		return
	}
	if b.Open == 0 {
		b.Open, b.High, b.Low, b.Close, b.openAt, b.closeAt = p.Price, p.Price, p.Price, p.Price, at, at
		return
	}
	b.High, b.Low = max(b.High, p.Price), min(b.Low, p.Price)
	if at < b.openAt {
		b.Open, b.openAt = p.Price, at
	}
	if at >= b.closeAt {
		b.Close, b.closeAt = p.Price, at
	}
}

// compact moves the bars kept to the front of the array once half of it
// is dropped ones, so that the array stays within twice the limit.
func (s *barSeries) compact() {
	if s.head > 0 && s.head >= len(s.bars)/2 {
		n := copy(s.bars, s.bars[s.head:])
		s.bars, s.head = s.bars[:n], 0
	}
}

func (s *barSeries) list() []Bar { return slices.Clone(s.bars[s.head:]) }

func (s *barSeries) reset() { s.bars, s.head = s.bars[:0], 0 }

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// addSize adds two sizes, saturating at tape.MaxSize as the day's volume
// does (tape.Fold).
func addSize(a, b tape.Size) tape.Size {
	if b > 0 && a > tape.MaxSize-b {
		return tape.MaxSize
	}
	return a + b
}

// tradeRing is a symbol's last TradesKept prints, for time and sales.
type tradeRing struct {
	prints []tape.Print
	next   int
}

func (r *tradeRing) add(p tape.Print) {
	if len(r.prints) < TradesKept {
		r.prints = append(r.prints, p)
		return
	}
	r.prints[r.next] = p
	r.next = (r.next + 1) % TradesKept
}

// newestFirst returns the prints, newest arrival first.
func (r *tradeRing) newestFirst() []tape.Print {
	out := make([]tape.Print, 0, len(r.prints))
	for i := range r.prints {
		k := (r.next - 1 - i + 2*len(r.prints)) % len(r.prints)
		out = append(out, r.prints[k])
	}
	return out
}

// chart is what a node keeps per symbol for its page: bars of two widths
// and time and sales, all of trading day day. prev and next link the
// hub's charts by last trade, so that the one traded longest ago is
// dropped first when there are MaxCharts.
type chart struct {
	day        tape.Day
	seconds    barSeries
	minutes    barSeries
	trades     tradeRing
	prev, next *symbolState
}

// chartList holds the symbols with a chart, least recently traded
// first. Guarded by the hub's lock.
type chartList struct {
	head, tail *symbolState
	n          int
}

func (l *chartList) pushBack(st *symbolState) {
	st.chart.prev, st.chart.next = l.tail, nil
	if l.tail != nil {
		l.tail.chart.next = st
	} else {
		l.head = st
	}
	l.tail = st
	l.n++
}

func (l *chartList) unlink(st *symbolState) {
	c := st.chart
	if c.prev != nil {
		c.prev.chart.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.chart.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

// dropChartLocked forgets st's chart, if it has one.
func (h *Hub) dropChartLocked(st *symbolState) {
	if st.chart != nil {
		h.charts.unlink(st)
		st.chart = nil
	}
}

// addPrintLocked records the trade q reports, if any, in sym's chart.
// Every record of the topic counts once, live or not (the history read at
// start-up is older than the seed, but its trades are the session's).
// Past MaxCharts charted symbols, the chart of the symbol traded longest
// ago is dropped: its page then opens with the bars built since.
//
// With live false (Backfill's trades, older than the node's history),
// only the 1 m bars count it: the live ones already hold every second kept,
// and time and sales lists trades as they arrive.
func (h *Hub) addPrintLocked(st *symbolState, q *tape.Quote, live bool) {
	if q.Print.IsZero() {
		return
	}
	if st.chart == nil {
		if h.charts.n >= h.cfg.MaxCharts {
			h.dropChartLocked(h.charts.head)
		}
		st.chart = &chart{}
		h.charts.pushBack(st)
	} else if h.charts.tail != st {
		h.charts.unlink(st)
		h.charts.pushBack(st)
	}
	c := st.chart
	switch {
	case q.Day != 0 && q.Day < c.day:
		return // an earlier session's trade
	case q.Day > c.day:
		c.day = q.Day
		c.seconds.reset()
		c.minutes.reset()
		c.trades = tradeRing{}
	}
	c.minutes.add(q.Print, 60, MinuteBarsKept)
	if live {
		c.seconds.add(q.Print, 1, SecondBarsKept)
		c.trades.add(q.Print)
	}
}

// Bars returns sym's bars of width seconds (1 or 60), oldest first, and
// the trading day they belong to. It fails for another width.
func (h *Hub) Bars(sym tape.Symbol, width int) ([]Bar, tape.Day, error) {
	if width != 1 && width != 60 {
		return nil, 0, ErrBarWidth
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.symbols.get(sym)
	if st == nil || st.chart == nil {
		return nil, 0, nil
	}
	if width == 1 {
		return st.chart.seconds.list(), st.chart.day, nil
	}
	return st.chart.minutes.list(), st.chart.day, nil
}

// Trades returns sym's last trades (at most TradesKept), newest first.
func (h *Hub) Trades(sym tape.Symbol) []tape.Print {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.symbols.get(sym)
	if st == nil || st.chart == nil {
		return nil
	}
	return st.chart.trades.newestFirst()
}

// backfillBatch is how many records Backfill applies per hold of the hub's
// lock.
const backfillBatch = 512

// Backfill counts in the bars the trades that the quotes topic holds from
// since up to where the hub's history starts (which Consume does not
// read), so that a node started in the middle of a session opens its
// charts with the session's bars, not only the last HistoryAge. Time and
// sales keeps only what arrives live. Symbols the hub does not know, and
// charts past MaxCharts, are left out. It waits for Consume to have
// initialised the hub, and returns when done or when ctx ends.
func (h *Hub) Backfill(ctx context.Context, cfg KafkaConfig, since time.Time) error {
	cfg = cfg.withDefaults()
	var until []int64
	for until == nil {
		h.mu.Lock()
		if h.firstRead != nil {
			until = slices.Clone(h.firstRead)
		}
		h.mu.Unlock()
		if until != nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	from, _, err := historyOffsets(ctx, client, cfg.Topic, len(until), since)
	if err != nil {
		return err
	}
	seen := map[tape.Symbol]tape.Seq{} // the newest fold position counted, to skip a fold's repeats
	for p := range until {
		if from[p] >= until[p] {
			continue
		}
		if err := h.backfillPartition(ctx, cfg, p, from[p], until[p], seen); err != nil {
			return err
		}
	}
	return nil
}

func (h *Hub) backfillPartition(ctx context.Context, cfg KafkaConfig, p int, from, until int64, seen map[tape.Symbol]tape.Seq) error {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.Topic, Partition: p, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: cfg.MaxWait})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return err
	}
	batch := make([]tape.Quote, 0, backfillBatch)
	flush := func() {
		h.mu.Lock()
		for i := range batch {
			if st := h.symbols.get(batch[i].Symbol); st != nil && (st.chart != nil || h.charts.n < h.cfg.MaxCharts) {
				h.addPrintLocked(st, &batch[i], false)
			}
		}
		h.mu.Unlock()
		batch = batch[:0]
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if m.Offset >= until {
			break
		}
		if q, err := tape.ParseQuote(m.Value); err == nil && !q.Print.IsZero() {
			if last, ok := seen[q.Symbol]; ok && q.Seq.IsSet() && last.Partition == q.Seq.Partition && q.Seq.Offset <= last.Offset {
				continue // a fold stage's repeat after a crash
			}
			seen[q.Symbol] = q.Seq
			batch = append(batch, q)
			if len(batch) == backfillBatch {
				flush()
			}
		}
		if m.Offset+1 >= until {
			break
		}
	}
	flush()
	return nil
}
