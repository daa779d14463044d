package tape

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Heartbeats: every web node and every ingester produces a record keyed
// by its id to a small compacted topic (TopicNodes) every few seconds;
// readers of the topic know the others without configuration, and pages
// get the web nodes as an "event: nodes".

// Roles of a process in a heartbeat.
const (
	RoleWeb    = "web"
	RoleIngest = "ingest"
	RoleReplay = "replay"
)

// Heartbeat is one process's state as it last said it. Web nodes fill
// URL, Streams, EventsPerSec and Lag; ingesters the rates of what they
// read, produce and reject.
type Heartbeat struct {
	ID   string    `json:"id"`
	Role string    `json:"role"`
	At   time.Time `json:"ts"`
	// EveryMS is how often the process sends a heartbeat; it is gone
	// once three are missed.
	EveryMS int64  `json:"every_ms"`
	Ready   bool   `json:"ready"`
	Status  string `json:"status,omitempty"` // why it is not ready
	// A web node's public base URL (scheme, host, port), its open
	// streams, quotes applied per second and records it has yet to read.
	URL          string  `json:"url,omitempty"`
	Streams      int64   `json:"streams"`
	EventsPerSec float64 `json:"events_per_s"`
	Lag          int64   `json:"lag"`
	// An ingester's raw messages, quotes produced and rejects per second,
	// and rejects in all.
	RawPerSec     float64 `json:"raw_per_s,omitempty"`
	QuotesPerSec  float64 `json:"quotes_per_s,omitempty"`
	RejectsPerSec float64 `json:"rejects_per_s,omitempty"`
	Rejected      int64   `json:"rejected,omitempty"`
	// A replay's file (its base name), how far through it it is (0 to
	// 1; -1 when unknown) and the feed time of the last message it sent.
	File     string    `json:"file,omitempty"`
	Fraction float64   `json:"fraction,omitempty"`
	Recorded time.Time `json:"recorded,omitzero"`
}

// ErrHeartbeat is returned by ParseHeartbeat for a record that is not a
// valid heartbeat.
var ErrHeartbeat = errors.New("tape: invalid heartbeat")

// maxHeartbeatBytes bounds one heartbeat record.
const maxHeartbeatBytes = 4096

// ParseHeartbeat reads and checks a heartbeat record: an id that can
// go into a page as it is, a known role, an http(s) URL without path,
// query or credentials, and short texts.
func ParseHeartbeat(b []byte) (Heartbeat, error) {
	var hb Heartbeat
	if len(b) > maxHeartbeatBytes {
		return hb, ErrHeartbeat
	}
	if err := json.Unmarshal(b, &hb); err != nil {
		return hb, fmt.Errorf("%w: %v", ErrHeartbeat, err)
	}
	if !ValidNodeID(hb.ID) || (hb.Role != RoleWeb && hb.Role != RoleIngest && hb.Role != RoleReplay) || hb.At.IsZero() || len(hb.Status) > 200 || len(hb.File) > 200 ||
		!(hb.Fraction >= -1 && hb.Fraction <= 1) {
		return hb, ErrHeartbeat
	}
	if hb.URL != "" {
		u, err := url.Parse(hb.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || len(hb.URL) > 256 {
			return hb, ErrHeartbeat
		}
		hb.URL = u.Scheme + "://" + u.Host
	}
	hb.EveryMS = min(max(hb.EveryMS, 100), 60_000)
	return hb, nil
}

// ValidNodeID reports whether id, a process id, is 1 to 64 of A-Z a-z 0-9 . _ : -.
func ValidNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
