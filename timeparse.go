package tape

import "time"

// TimeLayout is how tape writes times: RFC 3339, UTC, always nine
// fractional digits, so that every timestamp has the same width.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

var (
	errTime   = &Error{Code: ECodeTime, Message: "invalid timestamp"}
	errNoTime = &Error{Code: ECodeTime, Message: "missing timestamp"}
)

// ParseTime parses an RFC 3339 timestamp such as
// 2021-02-22T15:51:44.208123Z or 2021-02-22T10:51:44-05:00 and returns it
// in UTC. It accepts a subset of what time.Parse accepts (no comma before
// the fraction, offsets below 24 hours, years 0001 to 9999); fraction
// digits past the ninth are dropped, as time.Parse does.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errNoTime
	}
	if t, ok := parseRFC3339([]byte(s)); ok {
		return t, nil
	}
	return time.Time{}, errTime
}

// ParseTimeBytes is ParseTime for bytes; it never allocates.
func ParseTimeBytes(b []byte) (time.Time, error) {
	if len(b) == 0 {
		return time.Time{}, errNoTime
	}
	if t, ok := parseRFC3339(b); ok {
		return t, nil
	}
	return time.Time{}, errTime
}

// parseRFC3339 does ParseTimeBytes' work. Unlike time.Parse it never
// allocates (time.Parse does for offsets that are not whole hours and,
// through the string conversion, for long inputs).
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validDate(year, month, day) ||
		hour > 23 || minute > 59 || sec > 59 { // no leap seconds, as time.Parse
		return time.Time{}, false
	}
	b = b[19:]
	nsec := 0
	if b[0] == '.' {
		n := digitsLen(b[1:])
		if n == 0 {
			return time.Time{}, false
		}
		for i := range 9 {
			nsec *= 10
			if i < n {
				nsec += int(b[1+i] - '0')
			}
		}
		b = b[1+n:]
	}
	var offset int // seconds east of UTC
	switch {
	case len(b) == 1 && b[0] == 'Z':
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		oh, ok1 := digits(b[1:3])
		om, ok2 := digits(b[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	t = t.Add(-time.Duration(offset) * time.Second)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false // tape writes four-digit years only
	}
	return t, true
}

// AppendTime appends t in UTC as TimeLayout writes it
// ("2026-11-20T14:30:01.123000000Z"), the same bytes as
// t.UTC().AppendFormat(dst, TimeLayout) at a fraction of the cost: it is
// on every quote a node encodes. Years outside 0000-9999 go through
// AppendFormat.
func AppendTime(dst []byte, t time.Time) []byte {
	secs := t.Unix()
	const minSecs, maxSecs = -62167219200, 253402300799 // 0000-01-01, 9999-12-31T23:59:59 UTC
	if secs < minSecs || secs > maxSecs {
		return t.UTC().AppendFormat(dst, TimeLayout)
	}
	days, rem := secs/86400, secs%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	y, m, d := civil(days)
	var b [30]byte
	put4(b[0:], y)
	b[4] = '-'
	put2(b[5:], m)
	b[7] = '-'
	put2(b[8:], d)
	b[10] = 'T'
	put2(b[11:], int(rem/3600))
	b[13] = ':'
	put2(b[14:], int(rem/60%60))
	b[16] = ':'
	put2(b[17:], int(rem%60))
	b[19] = '.'
	ns := t.Nanosecond()
	for i := 28; i >= 20; i-- {
		b[i] = byte('0' + ns%10)
		ns /= 10
	}
	b[29] = 'Z'
	return append(dst, b[:]...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
// days_from_civil's inverse, civil_from_days).
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11]
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10), byte('0'+v%10) }

func put4(b []byte, v int) {
	b[0], b[1], b[2], b[3] = byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10)
}
