package main

import (
	"encoding/json"
	"testing"
)

// TestBenchMeasuresWhatStreamsReceive runs a short `tape bench` with its
// node in this process on the real broker: every produced quote reaches
// every stream that asked for it, with none missed or repeated, and with
// --max-rate each stream gets at most that many quotes per symbol per
// second.
func TestBenchMeasuresWhatStreamsReceive(t *testing.T) {
	brokers := testBrokers(t)
	tt := newTopics(t, brokers, uniqueID(t), 3)
	// --reference starts this executable as its child: the test binary
	// must then act as tape.
	t.Setenv("TAPE_TEST_AS_MAIN", "1")
	run := func(extra ...string) benchReport {
		args := append([]string{"bench", "--brokers", brokers, "--subscribers", "20", "--symbols", "10",
			"--symbols-per-sub", "5", "--rate", "400", "--duration", "2s", "--warmup", "500ms"}, tt.flags()...)
		out := runOK(t, append(args, extra...)...)
		var rep benchReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report %q: %v", out, err)
		}
		return rep
	}
	rep := run("--reference")
	if rep.Result.Events == 0 || rep.Result.Gaps != 0 || rep.Result.Dups != 0 || rep.Result.Connected != 20 {
		t.Fatalf("events %d, gaps %d, duplicates %d, connected %d: want events, no gap, no duplicate, 20 streams",
			rep.Result.Events, rep.Result.Gaps, rep.Result.Dups, rep.Result.Connected)
	}
	if rep.BytesPerEvent <= 0 || rep.Latency.Samples == 0 || rep.Server.USPerDelivery <= 0 {
		t.Fatalf("bytes per event %v, latency samples %d, µs per delivery %v", rep.BytesPerEvent, rep.Latency.Samples, rep.Server.USPerDelivery)
	}
	// The reference writer ran the same load beside it.
	if r := rep.Reference; r == nil || r.Events == 0 || r.USPerDelivery <= 0 || r.RatioNodeToRef <= 0 {
		t.Fatalf("reference %+v: want events, a cost per delivery and a ratio", r)
	}
	// 400 quotes a second over 10 symbols is 40 a symbol; capped at 2,
	// 20 streams × 5 symbols get at most 2 a second each over the 2 s
	// measured (one more at each edge).
	// Deltas: the same quotes, none missed or repeated, in fewer bytes.
	delta := run("--encoding", "delta")
	if delta.Result.Events == 0 || delta.Result.Gaps != 0 || delta.Result.Dups != 0 {
		t.Fatalf("with deltas: events %d, gaps %d, duplicates %d", delta.Result.Events, delta.Result.Gaps, delta.Result.Dups)
	}
	if delta.BytesPerEvent >= rep.BytesPerEvent/2 {
		t.Errorf("with deltas %v bytes per event, full quotes %v: want less than half", delta.BytesPerEvent, rep.BytesPerEvent)
	}
	capped := run("--max-rate", "2")
	if limit := int64(20 * 5 * (2*2 + 2)); capped.Result.Events == 0 || capped.Result.Events > limit {
		t.Fatalf("with --max-rate 2: %d quote events, want 1 to %d", capped.Result.Events, limit)
	}
}
