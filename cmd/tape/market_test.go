package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"
)

// TestMarketCasesReachThePageThroughKafka sends some of the feed
// behaviours that once put wrong numbers on the page through the whole
// pipeline, with kcat as the feed adapter (two ingesters' worth of stages
// in one, a web node), and reads what /api/quotes shows: a trade sent
// twice counts once, a busted print leaves volume and high, a late report
// counts in volume without moving the last price, a quote without an ask
// shows no ask.
func TestMarketCasesReachThePageThroughKafka(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := newTopics(t, brokers, id, 3)
	base := node(t, brokers, tt, id)
	// A fixed instant in the middle of a New York session: "now" minus ten
	// minutes must stay in the same trading day, which the wall clock
	// does not promise (00:00 to 00:10 New York).
	now := time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC)
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }

	polygon := fmt.Sprintf(`{"ev":"T","sym":"DUPE","x":4,"i":"52983527388739","z":3,"p":281.1,"s":2,"t":%d}`, ms(now))
	kcat(t, polygon+"\n"+polygon+"\n", "-b", brokers, "-P", "-t", tt.raw, "-H", "format=polygon")

	alpaca := fmt.Sprintf(`[{"T":"t","S":"BUST","i":71684334236465,"x":"V","p":70.00,"s":100,"c":["@"],"t":%q,"z":"C"},`+
		`{"T":"t","S":"BUST","i":71684334236466,"x":"V","p":73.28,"s":20100,"c":["@"],"t":%q,"z":"C"},`+
		`{"T":"t","S":"BUST","i":71684334236467,"x":"V","p":70.01,"s":100,"c":["@"],"t":%q,"z":"C"}]`,
		rfc(now.Add(-3*time.Second)), rfc(now.Add(-2*time.Second)), rfc(now.Add(-time.Second)))
	kcat(t, alpaca+"\n", "-b", brokers, "-P", "-t", tt.raw, "-k", "BUST", "-H", "format=alpaca")
	cancel := fmt.Sprintf(`[{"T":"x","S":"BUST","i":71684334236466,"x":"V","p":73.28,"s":20100,"a":"C","t":%q,"z":"C"}]`, rfc(now))
	late := []string{
		fmt.Sprintf(`{"ev":"T","sym":"LATE","x":4,"i":"1","z":3,"p":20.50,"s":100,"t":%d}`, ms(now)),
		fmt.Sprintf(`{"ev":"T","sym":"LATE","x":4,"i":"2","z":3,"p":20.25,"s":300,"t":%d}`, ms(now.Add(-10*time.Minute))),
	}
	oneSided := []string{
		fmt.Sprintf(`[{"T":"q","S":"ONE","bx":"V","bp":187.10,"bs":2,"ax":"V","ap":187.20,"as":3,"c":["R"],"t":%q,"z":"C"}]`, rfc(now)),
		fmt.Sprintf(`[{"T":"q","S":"ONE","bx":"V","bp":187.05,"bs":2,"ax":"V","ap":0,"as":0,"c":["R"],"t":%q,"z":"C"}]`, rfc(now.Add(time.Millisecond))),
	}
	// Each after the trades it refers to has been folded: a cancel of a
	// trade the fold has not seen is nothing to take out.
	waitFor(t, base, "BUST", map[string]string{"volume": "20300"})
	kcat(t, cancel+"\n", "-b", brokers, "-P", "-t", tt.raw, "-k", "BUST", "-H", "format=alpaca")
	kcat(t, late[0]+"\n"+late[1]+"\n", "-b", brokers, "-P", "-t", tt.raw, "-k", "LATE", "-H", "format=polygon")
	kcat(t, oneSided[0]+"\n"+oneSided[1]+"\n", "-b", brokers, "-P", "-t", tt.raw, "-k", "ONE", "-H", "format=alpaca")

	waitFor(t, base, "DUPE", map[string]string{"volume": "2", "last": "281.10"})
	waitFor(t, base, "BUST", map[string]string{"volume": "200", "high": "70.01", "last": "70.01", "kind": "cancel"})
	waitFor(t, base, "LATE", map[string]string{"volume": "400", "last": "20.50", "low": "20.25", "ts": now.Format("2006-01-02T15:04:05.000000000Z")})
	waitFor(t, base, "ONE", map[string]string{"bid": "187.05", "ask": "<nil>", "state": ""})
}

// waitFor polls /api/quotes until sym's quote shows every field of want
// (as text; "<nil>" for null), failing with what it shows.
func waitFor(t *testing.T, base, sym string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got map[string]string
	for {
		var api struct{ Quotes []map[string]any }
		if err := json.Unmarshal([]byte(get(t, base+"/api/quotes?symbols="+url.QueryEscape(sym))), &api); err != nil {
			t.Fatal(err)
		}
		ok := len(api.Quotes) == 1
		got = map[string]string{}
		if ok {
			for k, v := range api.Quotes[0] {
				got[k] = fmt.Sprint(v)
			}
			for k, v := range want {
				ok = ok && got[k] == v
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %v, want %v", sym, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
