package ui_test

import (
	"strings"
	"testing"

	"tape/ui"
)

// parsed is an event as a browser's EventSource parser sees it (WHATWG
// HTML, "event stream interpretation"), with CR, LF and CRLF as line ends.
type parsed struct {
	id, event, data string
	retry           string
}

func parseStream(s string) []parsed {
	var out []parsed
	var cur parsed
	var data []string
	hasData := false
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			if hasData || cur.id != "" || cur.event != "" {
				cur.data = strings.Join(data, "\n")
				out = append(out, cur)
			}
			cur, data, hasData = parsed{}, nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			cur.id = value
		case "event":
			cur.event = value
		case "data":
			data, hasData = append(data, value), true
		case "retry":
			cur.retry = value
		default:
			cur.event = "UNKNOWN FIELD " + field
		}
	}
	return out
}

func TestSSEFraming(t *testing.T) {
	tests := []struct {
		name              string
		event, id, data   string
		wantEvent, wantID string
		wantData          string
	}{
		{"plain", "quote", "1abc", `{"a":1}`, "quote", "1abc", `{"a":1}`},
		{"LF in data", "quote", "1", "a\nevent: evil\nid: 9", "quote", "1", "a\nevent: evil\nid: 9"},
		{"CR in data", "quote", "1", "a\revent: evil", "quote", "1", "a\nevent: evil"},
		{"CRLF in data", "quote", "1", "a\r\n\r\nevent: evil", "quote", "1", "a\n\nevent: evil"},
		{"blank line in data", "quote", "1", "a\n\nb", "quote", "1", "a\n\nb"},
		{"LF in id", "quote", "1\nevent: evil", "x", "quote", "1", "x"},
		{"CR in event", "quote\rdata: evil", "1", "x", "quote", "1", "x"},
		{"NUL in id", "quote", "1\x00", "x", "quote", "1", "x"},
		{"empty data", "snapshot", "2", "", "snapshot", "2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ui.SSE{}.AppendEvent(nil, tt.event, []byte(tt.id), []byte(tt.data))
			evs := parseStream(string(b))
			if len(evs) != 1 {
				t.Fatalf("%q parses as %d events: %+v", b, len(evs), evs)
			}
			ev := evs[0]
			if ev.event != tt.wantEvent || ev.id != tt.wantID || ev.data != tt.wantData {
				t.Fatalf("%q parses as %+v", b, ev)
			}
		})
	}
}

func FuzzSSEFraming(f *testing.F) {
	f.Add("quote", "1abc", `{"symbol":"A"}`)
	f.Add("quote\n", "1\r\nid: 2", "a\r\rb\n\nc")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, event, id, data string) {
		b := ui.SSE{}.AppendEvent(nil, event, []byte(id), []byte(data))
		evs := parseStream(string(b))
		if len(evs) > 1 {
			t.Fatalf("one event framed as %d: %q", len(evs), b)
		}
		if len(evs) == 0 {
			return
		}
		ev := evs[0]
		if strings.ContainsAny(ev.id, "\r\n\x00") || strings.ContainsAny(ev.event, "\r\n") {
			t.Fatalf("field holds a line end: %+v", ev)
		}
		if strings.HasPrefix(ev.event, "UNKNOWN FIELD") {
			t.Fatalf("data created a field: %q", b)
		}
		norm := strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
		if ev.data != norm {
			t.Fatalf("data %q came back as %q", norm, ev.data)
		}
	})
}
