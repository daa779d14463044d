package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/stream"
)

// TestBackfillOpensChartsWithTheSession starts a node whose history
// window (10 minutes) holds one trade of a session that began two hours
// earlier: Backfill puts the earlier trades in the 1 m bars, while time
// and sales lists only what the node read live.
func TestBackfillOpensChartsWithTheSession(t *testing.T) {
	brokers, quotes, latest := quoteTopics(t, "backfill", 1)

	now := time.Now().Truncate(time.Minute)
	open := now.Add(-2 * time.Hour)
	tr := &trades{sym: "AAPL", day: tape.MakeDay(2026, 11, 20)}
	recs := []record{
		tr.rec("10", "100", open.Add(5*time.Second), tape.AllUpdates),
		tr.rec("11", "50", open.Add(20*time.Second), tape.AllUpdates),
		tr.rec("9", "10", open.Add(70*time.Second), tape.AllUpdates),
		tr.rec("12", "1", now.Add(-time.Minute), tape.AllUpdates), // in the history window
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		at := open.Add(time.Duration(i) * time.Minute) // the broker's timestamps, which the history window goes by
		if i == len(recs)-1 {
			at = now.Add(-time.Minute)
		}
		msgs[i] = kafka.Message{Key: []byte("AAPL"), Value: r.value, Time: at}
	}
	writeAcked(t, brokers, quotes, msgs...)
	writeAcked(t, brokers, latest, kafka.Message{Key: []byte("AAPL"), Value: recs[len(recs)-1].value})

	cfg := stream.KafkaConfig{Brokers: []string{brokers}, Topic: quotes, LatestTopic: latest, Group: "tape-web-" + quotes}
	h, consumed, _ := follow(t, stream.Config{HistoryAge: 10 * time.Minute}, cfg)
	waitUntil(t, consumed, "the node's history", func() bool { return len(h.Trades("AAPL")) > 0 })
	if bars, _, _ := h.Bars("AAPL", 60); len(bars) != 1 {
		t.Fatalf("before backfill: %d bars", len(bars))
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer bcancel()
	if err := h.Backfill(bctx, cfg, now.Add(-stream.MinuteBarsKept*time.Minute)); err != nil {
		t.Fatal(err)
	}
	o := open.Unix()
	assertBars(t, barsOf(t, h, "AAPL", 60), []barText{
		{o, "10", "11", "10", "11", "150"}, {o + 60, "9", "9", "9", "9", "10"}, {now.Add(-time.Minute).Unix(), "12", "12", "12", "12", "1"},
	})
	if got := h.Trades("AAPL"); len(got) != 1 || got[0].Price != tape.MustPrice("12") {
		t.Errorf("time and sales after backfill: %v", got)
	}
	if sec := barsOf(t, h, "AAPL", 1); len(sec) != 1 {
		t.Errorf("1 s bars after backfill: %v", sec)
	}
}
