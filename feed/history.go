package feed

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // New York's zone on machines without a zoneinfo database

	"tape"
)

// HistorySource is the Source of events read from real price history.
const HistorySource = "history"

// ErrHistory reports a price table that cannot be read; the error names
// the line.
var ErrHistory = errors.New("feed: bad price history")

// Trading hours of the New York session, in its own time zone.
var (
	sessionOpen  = 9*time.Hour + 30*time.Minute
	sessionClose = 16 * time.Hour
)

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err) // embedded by time/tzdata
	}
	return loc
}()

// ReadHistory reads a table of real prices, in one of the shapes the
// vega-datasets package ships (CSV with a header line), and returns it as
// trades in time order:
//
//   - date,open,high,low,close,adjclose,volume (sp500-2000.csv, daily):
//     four trades a day for symbol: the open at 9:30 New York time, the
//     low and the high (the low first on an up day) at 11:00 and 14:00,
//     and the close at 16:00; each carries a quarter of the day's volume.
//   - symbol,date,price (stocks.csv, monthly): one trade per row at 16:00
//     New York time on its date, size 0 (the table has no volume).
//   - date,price (sp500.csv, monthly): the same, for symbol.
//
// Dates are YYYY-MM-DD or "Jan 1 2000". Prices are rounded to the cent,
// as the tables carry float artefacts such as 1455.219971.
func ReadHistory(r io.Reader, symbol string) ([]tape.Event, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrHistory, err)
	}
	var read func(rec []string) ([]tape.Event, error)
	switch strings.Join(head, ",") {
	case "date,open,high,low,close,adjclose,volume":
		read = func(rec []string) ([]tape.Event, error) { return dailyBar(symbol, rec) }
	case "symbol,date,price":
		read = func(rec []string) ([]tape.Event, error) { return closeTrade(rec[0], rec[1], rec[2]) }
	case "date,price":
		read = func(rec []string) ([]tape.Event, error) { return closeTrade(symbol, rec[0], rec[1]) }
	default:
		return nil, fmt.Errorf("%w: unknown columns %q", ErrHistory, strings.Join(head, ","))
	}
	var out []tape.Event
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrHistory, err)
		}
		evs, err := read(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrHistory, line, err)
		}
		out = append(out, evs...)
	}
	// Stable: rows of one time keep the table's order.
	slices.SortStableFunc(out, func(a, b tape.Event) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func historyDay(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "Jan 2 2006"} {
		if t, err := time.ParseInLocation(layout, s, newYork); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: want 2000-01-03 or Jan 3 2000", s)
}

// at returns the instant of a New York clock time on day.
func at(day time.Time, clock time.Duration) time.Time {
	h, m := int(clock/time.Hour), int(clock%time.Hour/time.Minute)
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, newYork).UTC()
}

func cents(s string) (tape.Price, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || f > 1e9 {
		return 0, fmt.Errorf("price %q", s)
	}
	return tape.PriceFromInt(int64(math.Round(f*100)), 2)
}

func closeTrade(symbol, date, price string) ([]tape.Event, error) {
	day, err := historyDay(date)
	if err != nil {
		return nil, err
	}
	px, err := cents(price)
	if err != nil {
		return nil, err
	}
	ev := tape.Event{Symbol: tape.Symbol(symbol), Kind: tape.KindTrade, Last: px, Time: at(day, sessionClose), Source: HistorySource}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return []tape.Event{ev}, nil
}

func dailyBar(symbol string, rec []string) ([]tape.Event, error) {
	day, err := historyDay(rec[0])
	if err != nil {
		return nil, err
	}
	var ohlc [4]tape.Price
	for i := range ohlc {
		if ohlc[i], err = cents(rec[1+i]); err != nil {
			return nil, err
		}
	}
	vol, err := strconv.ParseInt(rec[6], 10, 64)
	if err != nil || vol < 0 {
		return nil, fmt.Errorf("volume %q", rec[6])
	}
	open, high, low, cls := ohlc[0], ohlc[1], ohlc[2], ohlc[3]
	first, second := high, low
	if cls >= open {
		first, second = low, high
	}
	if _, err := tape.SizeFromInt(vol, 0); err != nil {
		return nil, fmt.Errorf("volume %q: %w", rec[6], err)
	}
	quarter := vol / 4
	evs := []tape.Event{
		{Last: open, Size: whole(quarter), Time: at(day, sessionOpen)},
		{Last: first, Size: whole(quarter), Time: at(day, 11*time.Hour)},
		{Last: second, Size: whole(quarter), Time: at(day, 14*time.Hour)},
		{Last: cls, Size: whole(vol - 3*quarter), Time: at(day, sessionClose)},
	}
	for i := range evs {
		evs[i].Symbol, evs[i].Kind, evs[i].Source = tape.Symbol(symbol), tape.KindTrade, HistorySource
		if err := evs[i].Validate(); err != nil {
			return nil, err
		}
	}
	return evs, nil
}
