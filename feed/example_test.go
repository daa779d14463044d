package feed_test

import (
	"fmt"
	"time"

	"tape"
	"tape/feed"
)

// A seed names a market; the encoder writes it as a vendor would.
func Example() {
	g, err := feed.New(feed.Config{
		Symbols:    []string{"AAPL", "EUR/USD"},
		Rate:       10,
		Seed:       1,
		TradeRatio: 0.5,
		Start:      time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	enc, _ := feed.NewEncoder(tape.FormatCSV)
	for range 6 {
		msg, _ := enc.Append(nil, g.Next())
		fmt.Println(string(msg))
	}
	// Output:
	// AAPL,2026-11-20T14:30:00.016305344Z,242.55,242.56,,
	// AAPL,2026-11-20T14:30:00.081291219Z,,,242.56,60
	// EUR/USD,2026-11-20T14:30:00.126270155Z,1.05456,1.05459,,
	// EUR/USD,2026-11-20T14:30:00.247075445Z,,,1.05459,100000
	// AAPL,2026-11-20T14:30:00.312292179Z,,,242.56,21
	// AAPL,2026-11-20T14:30:00.425048023Z,242.54,242.55,,
}
