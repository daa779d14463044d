package tape

import (
	"time"
	_ "time/tzdata" // the session zones below, on machines without a zoneinfo database
)

// Day is a trading day as the number yyyymmdd (20261120), so that days
// compare in order and print without a calendar. The zero Day means "not
// known". In JSON it is written "2026-11-20".
type Day int32

var errDay = &Error{Code: ECodeTime, Message: "invalid trading day (want YYYY-MM-DD)"}

// MakeDay returns the Day of a calendar date; out-of-range fields are
// normalised as time.Date does.
func MakeDay(year int, month time.Month, day int) Day {
	t := time.Date(year, month, day, 12, 0, 0, 0, time.UTC)
	return Day(t.Year()*10000 + int(t.Month())*100 + t.Day())
}

// Date returns the day's calendar fields.
func (d Day) Date() (year int, month time.Month, day int) {
	return int(d) / 10000, time.Month(int(d) / 100 % 100), int(d) % 100
}

// AppendText appends the day as YYYY-MM-DD, or nothing for the zero Day.
func (d Day) AppendText(dst []byte) []byte {
	if d <= 0 {
		return dst
	}
	y, m, dd := d.Date()
	return append(dst,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-',
		byte('0'+dd/10), byte('0'+dd%10))
}

// String returns the day as AppendText writes it.
func (d Day) String() string { return string(d.AppendText(make([]byte, 0, 10))) }

// ParseDay parses a YYYY-MM-DD date.
func ParseDay(b []byte) (Day, error) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, errDay
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || y == 0 || !validDate(y, m, d) {
		return 0, errDay
	}
	return Day(y*10000 + m*100 + d), nil
}

// Session says how time maps to trading days for a class of instruments:
// a trading day is the calendar date in Zone, except that from Roll (a
// time of day in Zone) onwards it is already the next one. Working in the
// zone's wall clock keeps days right across daylight-saving changes.
type Session struct {
	Zone *time.Location
	Roll time.Duration // 0: the day changes at midnight in Zone
}

// Day returns the trading day of t; the zero Day (not known) for a time
// whose day in Zone falls before year 1, which a Day cannot write
// (0001-01-01T00:00Z is still 0000-12-31 in New York).
func (s Session) Day(t time.Time) Day {
	zone := s.Zone
	if zone == nil {
		zone = time.UTC
	}
	lt := t.In(zone)
	y, m, d := lt.Date()
	if y < 1 {
		return 0
	}
	if s.Roll > 0 {
		hh, mm, ss := lt.Clock()
		clock := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute + time.Duration(ss)*time.Second + time.Duration(lt.Nanosecond())
		if clock >= s.Roll {
			return MakeDay(y, m, d+1)
		}
	}
	return Day(y*10000 + int(m)*100 + d)
}

// Session zones, from the IANA time zone database embedded by time/tzdata.
var (
	newYork = mustZone("America/New_York")
	chicago = mustZone("America/Chicago")
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("tape: " + err.Error()) // cannot happen: time/tzdata is embedded
	}
	return loc
}

// DefaultSession returns the trading-day rule of an asset class:
//
//   - US equities: the calendar date in New York (America/New_York). The
//     NYSE and Nasdaq sessions, extended hours included (04:00-20:00 ET),
//     fall within one New York date, so a trade at 20:00Z on a Monday and
//     one at 00:30Z on Tuesday (19:30 or 20:30 in New York) both belong
//     to Monday, and Tuesday opens with its first eligible trade. Source:
//     NYSE "Holidays and Trading Hours", core session 09:30-16:00 ET,
//     early and late sessions from 04:00 and to 20:00 ET
//     (https://www.nyse.com/markets/hours-calendars).
//   - FX: the day rolls at 17:00 New York time, the "New York close" at
//     which spot FX changes value date and the market's week runs Sunday
//     17:00 to Friday 17:00 ET; CLS and CME FX both use it. Source: CME
//     Group FX trading hours (https://www.cmegroup.com/trading-hours.html).
//   - Futures: CME Globex's trade date rolls at 17:00 Chicago time
//     (America/Chicago), when the next day's session opens. Source: CME
//     Group trading hours (https://www.cmegroup.com/trading-hours.html).
//   - Crypto: the UTC date, as exchanges' daily candles and statistics
//     use (for example Coinbase Exchange and Binance market data APIs).
func DefaultSession(c AssetClass) Session {
	switch c {
	case ClassFX:
		return Session{Zone: newYork, Roll: 17 * time.Hour}
	case ClassFuture:
		return Session{Zone: chicago, Roll: 17 * time.Hour}
	case ClassCrypto:
		return Session{Zone: time.UTC}
	}
	return Session{Zone: newYork}
}

// digits parses a short run of decimal digits, nothing else.
func digits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func validDate(year, month, day int) bool {
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}
