package feed_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tape"
	"tape/feed"
	"tape/ingest"
)

func TestReadHistory(t *testing.T) {
	tests := []struct {
		name, table string
		want        []string // symbol last size time
	}{
		{"daily up day", "date,open,high,low,close,adjclose,volume\n2000-01-04,100.004,110.0,95.5,105.123456,105.1,1001\n", []string{
			"SPX 100.00 250 2000-01-04T14:30:00Z", "SPX 95.50 250 2000-01-04T16:00:00Z",
			"SPX 110.00 250 2000-01-04T19:00:00Z", "SPX 105.12 251 2000-01-04T21:00:00Z"}},
		{"daily down day in summer", "date,open,high,low,close,adjclose,volume\n2019-07-01,100,110,90,95,95,4\n", []string{
			"SPX 100.00 1 2019-07-01T13:30:00Z", "SPX 110.00 1 2019-07-01T15:00:00Z",
			"SPX 90.00 1 2019-07-01T18:00:00Z", "SPX 95.00 1 2019-07-01T20:00:00Z"}},
		{"monthly stocks in time order", "symbol,date,price\nMSFT,Feb 1 2000,36.35\nAAPL,Jan 1 2000,25.94\n", []string{
			"AAPL 25.94 0 2000-01-01T21:00:00Z", "MSFT 36.35 0 2000-02-01T21:00:00Z"}},
		{"monthly index", "date,price\nJan 1 2000,1394.46\n", []string{"SPX 1394.46 0 2000-01-01T21:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := feed.ReadHistory(strings.NewReader(tt.table), "SPX")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, strings.Join([]string{string(ev.Symbol), ev.Last.String(), ev.Size.String(), ev.Time.Format(time.RFC3339)}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	for _, bad := range []string{"", "a,b\n", "date,price\nyesterday,1\n", "date,price\nJan 1 2000,-1\n", "symbol,date,price\n<x>,Jan 1 2000,1\n"} {
		if _, err := feed.ReadHistory(strings.NewReader(bad), "SPX"); !errors.Is(err, feed.ErrHistory) {
			t.Errorf("ReadHistory(%q): %v, want ErrHistory", bad, err)
		}
	}
}

// TestHistoryRecordings checks that the converted history in
// testdata/history reads back through the ingest package, in time order.
func TestHistoryRecordings(t *testing.T) {
	reader, _ := ingest.Lookup(tape.FormatTape)
	for _, file := range []string{"sp500-daily.tape.jsonl.gz", "sp500-monthly.tape.jsonl.gz", "stocks-monthly.tape.jsonl.gz"} {
		t.Run(file, func(t *testing.T) {
			lines := bytes.Split(bytes.TrimSpace(readGzip(t, filepath.Join("..", "testdata", "history", file))), []byte("\n"))
			var last time.Time
			for i, line := range lines {
				evs, rejects := reader.Normalize(nil, line)
				if len(evs) != 1 || len(rejects) > 0 || evs[0].Kind != tape.KindTrade || evs[0].Time.Before(last) {
					t.Fatalf("line %d %s: %+v %+v", i+1, line, evs, rejects)
				}
				last = evs[0].Time
			}
		})
	}
}
