package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"tape"
	"tape/ingest"
)

// aggregates is a Polygon message of n aggregate objects, a kind of
// element tape does not accept.
func aggregates(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ev":"A","sym":"XAGG%03d","v":4110,"av":9470157,"op":0.4488,"vw":0.4466,"o":0.4477,"c":0.4458,"h":0.4478,"l":0.4457,"a":0.4466,"z":686,"s":1610144868000,"e":1610144869000}`, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func headerOf(dl ingest.DeadLetter, key string) (string, bool) {
	for _, h := range dl.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

type reason struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

func TestNewDeadLetter(t *testing.T) {
	origin := ingest.Position{Topic: "feeds.raw", Partition: 2, Offset: 1207}
	polygon, _ := ingest.Lookup(tape.FormatPolygon)
	agg := aggregates(150)
	_, aggRejects := polygon.Normalize(nil, agg)
	if len(aggRejects) != 150 {
		t.Fatalf("polygon rejects %d of 150 aggregates; this test needs every one rejected", len(aggRejects))
	}
	big := bytes.Repeat([]byte("x"), 100_000)
	many := make([]ingest.Reject, 5000)
	for i := range many {
		many[i] = ingest.Reject{Index: i, Err: tape.Errorf(tape.ECodeSymbol, "invalid symbol")}
	}
	for _, tc := range []struct {
		name      string
		key, raw  []byte
		format    string
		rejects   []ingest.Reject
		max       int
		wantValue []byte
		wantKey   []byte
		want      map[string]string // headers; "-" means absent
		// wantReasons is how many entries HeaderReasons lists.
		wantReasons int
	}{
		{
			name: "150 aggregates are one dead letter with every reason", key: []byte("XAGG"), raw: agg, format: "polygon",
			rejects: aggRejects, max: ingest.DefaultDLQMaxBytes, wantValue: agg, wantKey: []byte("XAGG"),
			want: map[string]string{
				tape.HeaderReason: tape.ErrorCode(aggRejects[0].Err), tape.HeaderError: tape.ErrorMessage(aggRejects[0].Err),
				tape.HeaderRejectCount: "150", tape.HeaderFormat: "polygon", tape.HeaderOriginTopic: "feeds.raw",
				tape.HeaderOriginPartition: "2", tape.HeaderOriginOffset: "1207", tape.HeaderOriginIndex: "0",
				tape.HeaderOriginalLength: strconv.Itoa(len(agg)), tape.HeaderTruncated: "-",
			},
			wantReasons: 150,
		},
		{
			name: "a large message is cut to the limit", raw: big, format: "csv",
			rejects: []ingest.Reject{{Index: 3, Err: tape.Errorf(tape.ECodePrice, "bad price")}}, max: 65536,
			wantValue: big[:65536],
			want: map[string]string{
				tape.HeaderReason: "bad_price", tape.HeaderRejectCount: "1", tape.HeaderOriginIndex: "3",
				tape.HeaderOriginalLength: "100000", tape.HeaderTruncated: "true",
			},
			wantReasons: 1,
		},
		{
			name: "no raw bytes at a limit of zero", raw: []byte("abc"), format: "tape",
			rejects: []ingest.Reject{{Index: -1, Err: tape.Errorf(tape.ECodeJSON, "malformed JSON")}}, max: 0,
			wantValue:   []byte{},
			want:        map[string]string{tape.HeaderOriginalLength: "3", tape.HeaderTruncated: "true", tape.HeaderOriginIndex: "-1"},
			wantReasons: 1,
		},
		{
			name: "an unknown format's name and a huge key are cut", key: bytes.Repeat([]byte("k"), 5000), raw: []byte("?"),
			format:  strings.Repeat("f", 100),
			rejects: []ingest.Reject{{Index: -1, Err: tape.Errorf(tape.ECodeFormat, "unknown format")}}, max: 10,
			wantValue: []byte("?"), wantKey: bytes.Repeat([]byte("k"), ingest.MaxDeadLetterKey),
			want:        map[string]string{tape.HeaderFormat: strings.Repeat("f", 32), tape.HeaderReason: "unknown_format"},
			wantReasons: 1,
		},
		{
			name: "reasons beyond the header bound are counted, not listed", raw: []byte("[]"), format: "polygon",
			rejects: many, max: 10, wantValue: []byte("[]"),
			want:        map[string]string{tape.HeaderRejectCount: "5000", tape.HeaderReason: "bad_symbol"},
			wantReasons: -1, // as many as fit
		},
		{
			name: "an error that is not a tape error shows no internals", raw: []byte("x"), format: "fix",
			rejects: []ingest.Reject{{Index: 7, Err: fmt.Errorf("broker said: secret internals")}}, max: 10,
			wantValue:   []byte("x"),
			want:        map[string]string{tape.HeaderReason: tape.ECodeInvalid, tape.HeaderError: "invalid input"},
			wantReasons: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dl := ingest.NewDeadLetter(origin, tc.key, tc.raw, tc.format, tc.rejects, tc.max)
			if !bytes.Equal(dl.Value, tc.wantValue) {
				t.Errorf("value: %d bytes, want %d", len(dl.Value), len(tc.wantValue))
			}
			if !bytes.Equal(dl.Key, tc.wantKey) {
				t.Errorf("key: %d bytes, want %d", len(dl.Key), len(tc.wantKey))
			}
			for k, want := range tc.want {
				got, ok := headerOf(dl, k)
				if want == "-" {
					if ok {
						t.Errorf("header %s = %q, want none", k, got)
					}
					continue
				}
				if got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			raw, _ := headerOf(dl, tape.HeaderReasons)
			if len(raw) > ingest.MaxReasonsBytes {
				t.Errorf("reasons header is %d bytes, over %d", len(raw), ingest.MaxReasonsBytes)
			}
			var reasons []reason
			if err := json.Unmarshal([]byte(raw), &reasons); err != nil {
				t.Fatalf("reasons header %q: %v", raw, err)
			}
			if tc.wantReasons >= 0 && len(reasons) != tc.wantReasons {
				t.Errorf("reasons lists %d, want %d", len(reasons), tc.wantReasons)
			}
			if len(reasons) == 0 {
				t.Fatal("reasons lists nothing")
			}
			for i, r := range reasons {
				rj := tc.rejects[i]
				if r != (reason{rj.Index, tape.ErrorCode(rj.Err), tape.ErrorMessage(rj.Err)}) {
					t.Fatalf("reason %d = %+v, want the reject %+v", i, r, rj)
				}
			}
			size := len(dl.Key) + len(dl.Value)
			for _, h := range dl.Headers {
				size += len(h.Key) + len(h.Value)
			}
			if limit := tc.max + ingest.MaxDeadLetterKey + ingest.MaxReasonsBytes + 2048; size > limit {
				t.Errorf("dead letter of %d bytes, over its bound %d", size, limit)
			}
		})
	}
}
