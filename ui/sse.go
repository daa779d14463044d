package ui

import (
	"bytes"
	"strconv"
)

// SSE framing. A field value ends at CR, LF or CRLF (WHATWG HTML, "event
// stream interpretation"), so an id or event name keeps only the bytes
// before its first line end, and data is split into one "data:" line per
// line of the value. Nothing a feed sends can start a new field or event.

// SSE frames server-sent events; it implements stream.Encoder.
type SSE struct{}

// AppendEvent appends one event with the given name, id and data.
func (SSE) AppendEvent(dst []byte, event string, id, data []byte) []byte {
	if len(id) > 0 {
		dst = append(dst, "id: "...)
		dst = appendField(dst, id)
		dst = append(dst, '\n')
	}
	if event != "" {
		dst = append(dst, "event: "...)
		dst = appendField(dst, []byte(event))
		dst = append(dst, '\n')
	}
	dst = appendData(dst, data)
	return append(dst, '\n')
}

// appendField appends v up to its first CR, LF or NUL; a NUL in an id makes
// browsers ignore the id, so it is cut as well.
func appendField(dst, v []byte) []byte {
	for i, c := range v {
		if c == '\r' || c == '\n' || c == 0 {
			return append(dst, v[:i]...)
		}
	}
	return append(dst, v...)
}

// appendData appends v as data lines, treating CR, LF and CRLF as line ends.
func appendData(dst, v []byte) []byte {
	dst = append(dst, "data: "...)
	// JSON never has raw line ends; two IndexByte scans are vectorised,
	// IndexAny is not.
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		dst = append(dst, v...)
		return append(dst, '\n')
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\r':
			if i+1 < len(v) && v[i+1] == '\n' {
				i++
			}
			dst = append(dst, "\ndata: "...)
		case '\n':
			dst = append(dst, "\ndata: "...)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '\n')
}

// AppendRetry appends a retry hint in milliseconds.
func AppendRetry(dst []byte, ms int64) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, max(ms, 0), 10)
	return append(dst, "\n\n"...)
}
