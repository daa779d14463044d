package tape_test

import (
	"strings"
	"testing"

	"tape"
)

func TestParseHeartbeat(t *testing.T) {
	at := `"ts":"2026-12-01T03:00:00Z"`
	for _, tc := range []struct {
		name, in string
		ok       bool
		url      string
	}{
		{"web node", `{"id":"web-1","role":"web","url":"http://127.0.0.1:8081","ready":true,"streams":3,` + at + `,"every_ms":2000}`, true, "http://127.0.0.1:8081"},
		{"url with a trailing slash", `{"id":"w","role":"web","url":"https://tape.example/",` + at + `}`, true, "https://tape.example"},
		{"ingester", `{"id":"ingest-a","role":"ingest","raw_per_s":10,` + at + `}`, true, ""},
		{"unknown role", `{"id":"x","role":"admin",` + at + `}`, false, ""},
		{"id with markup", `{"id":"<script>","role":"web",` + at + `}`, false, ""},
		{"no time", `{"id":"w","role":"web"}`, false, ""},
		{"javascript url", `{"id":"w","role":"web","url":"javascript:alert(1)",` + at + `}`, false, ""},
		{"url with a path", `{"id":"w","role":"web","url":"http://h/x",` + at + `}`, false, ""},
		{"url with credentials", `{"id":"w","role":"web","url":"http://u:p@h",` + at + `}`, false, ""},
		{"not json", `web-1`, false, ""},
		{"too long", `{"id":"w","role":"web","status":"` + strings.Repeat("x", 5000) + `",` + at + `}`, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb, err := tape.ParseHeartbeat([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && hb.URL != tc.url {
				t.Errorf("url %q, want %q", hb.URL, tc.url)
			}
			if tc.ok && (hb.EveryMS < 100 || hb.EveryMS > 60_000) {
				t.Errorf("every_ms %d out of range", hb.EveryMS)
			}
		})
	}
}

// FuzzParseHeartbeat checks that any record a process could put on the
// heartbeat topic either fails or yields an id and URL a page can use as
// they are.
func FuzzParseHeartbeat(f *testing.F) {
	f.Add([]byte(`{"id":"web-1","role":"web","url":"http://127.0.0.1:8081","ready":true,"ts":"2026-12-01T03:00:00Z","every_ms":2000}`))
	f.Add([]byte(`{"id":"i","role":"ingest","ts":"2026-12-01T03:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := tape.ParseHeartbeat(b)
		if err != nil {
			return
		}
		if !tape.ValidNodeID(hb.ID) || strings.ContainsAny(hb.URL, "<>\"' ") || hb.EveryMS < 100 {
			t.Fatalf("accepted %+v", hb)
		}
	})
}
