package ingest

import (
	"encoding/json"
	"strconv"

	"tape"
)

// Bounds of a dead letter. Together they keep it far below the broker's
// default request limit (message.max.bytes, 1048588 bytes), whatever the
// raw message held.
const (
	// DefaultDLQMaxBytes is how much of a raw message a dead letter
	// carries by default; the rest stays in the raw topic at the origin.
	DefaultDLQMaxBytes = 64 << 10
	// MaxReasonsBytes bounds the HeaderReasons list; reasons past it are
	// left out (HeaderRejectCount still counts them).
	MaxReasonsBytes = 16 << 10
	// MaxDeadLetterKey bounds the key copied from the raw message.
	MaxDeadLetterKey = 1 << 10
	// maxFormatHeader bounds the format name copied into a header: an
	// unknown format's name comes from outside.
	maxFormatHeader = 32
)

// ReasonRefused is the reason code of a dead letter for output the broker
// refused for good (too large, invalid, unknown topic, not authorised):
// the raw message was read, but what it became could not be written.
const ReasonRefused = "refused"

// Position is where a message is in Kafka.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
}

// Header is one Kafka header, without the Kafka client's types.
type Header struct {
	Key   string
	Value []byte
}

// DeadLetter is the record that carries a rejected message to the
// dead-letter topic.
type DeadLetter struct {
	Key, Value []byte
	Headers    []Header
}

// reasonJSON is one element of the HeaderReasons list.
type reasonJSON struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// NewDeadLetter builds the one dead letter for the message at origin
// (key, raw, read as format) of which rejects were not accepted. rejects
// must not be empty; its first element gives the routing headers
// (HeaderReason, HeaderError, HeaderOriginIndex), and every element, up
// to MaxReasonsBytes, is listed in HeaderReasons. The value is raw cut to
// maxBytes (at least 0), with HeaderTruncated when it was cut;
// HeaderOriginalLength and the origin headers are always there, so the
// whole message can be fetched from the origin topic.
//
// NewDeadLetter is pure: it copies nothing but the bounded prefixes of
// key and raw, which it shares rather than copies.
func NewDeadLetter(origin Position, key, raw []byte, format string, rejects []Reject, maxBytes int) DeadLetter {
	first := Reject{Index: -1, Err: tape.Errorf(tape.ECodeInvalid, "rejected")}
	if len(rejects) > 0 {
		first = rejects[0]
	}
	if len(format) > maxFormatHeader {
		format = format[:maxFormatHeader]
	}
	if len(key) > MaxDeadLetterKey {
		key = key[:MaxDeadLetterKey]
	}
	value := raw
	maxBytes = max(maxBytes, 0)
	if len(value) > maxBytes {
		value = value[:maxBytes]
	}
	itoa := func(v int64) []byte { return strconv.AppendInt(nil, v, 10) }
	h := make([]Header, 0, 12)
	h = append(h,
		Header{tape.HeaderReason, []byte(tape.ErrorCode(first.Err))},
		Header{tape.HeaderError, []byte(tape.ErrorMessage(first.Err))},
		Header{tape.HeaderReasons, appendReasons(nil, rejects, MaxReasonsBytes)},
		Header{tape.HeaderRejectCount, itoa(int64(max(len(rejects), 1)))},
		Header{tape.HeaderFormat, []byte(format)},
		Header{tape.HeaderOriginTopic, []byte(origin.Topic)},
		Header{tape.HeaderOriginPartition, itoa(int64(origin.Partition))},
		Header{tape.HeaderOriginOffset, itoa(origin.Offset)},
		Header{tape.HeaderOriginIndex, itoa(int64(first.Index))},
		Header{tape.HeaderOriginalLength, itoa(int64(len(raw)))},
	)
	if len(value) < len(raw) {
		h = append(h, Header{tape.HeaderTruncated, []byte("true")})
	}
	return DeadLetter{Key: key, Value: value, Headers: h}
}

// appendReasons appends rejects as a JSON list of reasonJSON, leaving out
// those that would take it past limit bytes.
func appendReasons(dst []byte, rejects []Reject, limit int) []byte {
	start := len(dst)
	dst = append(dst, '[')
	for _, rj := range rejects {
		b, err := json.Marshal(reasonJSON{Index: rj.Index, Reason: tape.ErrorCode(rj.Err), Error: tape.ErrorMessage(rj.Err)})
		if err != nil {
			continue // cannot happen: plain strings and ints
		}
		if len(dst)-start+1+len(b)+1 > limit {
			break
		}
		if len(dst)-start > 1 {
			dst = append(dst, ',')
		}
		dst = append(dst, b...)
	}
	return append(dst, ']')
}
