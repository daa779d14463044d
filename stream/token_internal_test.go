package stream

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
	"testing"
)

// appendTokenV1 writes the first token form, which nodes wrote before
// version 2: clients may still hold such ids.
func appendTokenV1(fingerprint uint32, offsets []int64) []byte {
	var raw []byte
	raw = binary.AppendUvarint(raw, uint64(fingerprint))
	raw = binary.AppendUvarint(raw, uint64(len(offsets)))
	for _, o := range offsets {
		raw = binary.AppendUvarint(raw, uint64(o))
	}
	return base64.RawURLEncoding.AppendEncode([]byte{'1'}, raw)
}

func TestTokensRoundTripAndOldOnesStillResume(t *testing.T) {
	const fp = 0xdeadbeef
	for _, offsets := range [][]int64{{0}, {5, 0, 1 << 20}, {1 << 40, 7, 3, 2, 1, 0}, make([]int64, maxPartitions)} {
		for name, tok := range map[string][]byte{"v2": appendToken(nil, fp, offsets), "v1": appendTokenV1(fp, offsets)} {
			got, err := parseToken(tok, fp, nil)
			if err != nil || !slices.Equal(got, offsets) {
				t.Errorf("%s %s: %v %v, want %v", name, tok, got, err, offsets)
			}
			if _, err := parseToken(tok, fp^0x10001, nil); err == nil {
				t.Errorf("%s %s: accepted for another cluster", name, tok)
			}
		}
	}
	// Six partitions near a million: the id costs 28 bytes, not 33.
	if tok := appendToken(nil, fp, []int64{1e6, 1e6, 1e6, 1e6, 1e6, 1e6}); len(tok) != 28 {
		t.Errorf("token %s is %d bytes, want 28", tok, len(tok))
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(appendToken(nil, 42, []int64{1, 2, 3})))
	f.Add(appendTokenV1(42, []int64{1 << 40}))
	f.Add([]byte("2"))
	f.Add([]byte("1AAAA"))
	f.Fuzz(func(t *testing.T, tok []byte) {
		offsets, err := parseToken(tok, 42, nil)
		if err != nil {
			return
		}
		if len(offsets) == 0 || len(offsets) > maxPartitions {
			t.Fatalf("%q: %d offsets", tok, len(offsets))
		}
		// What parses, written again, parses the same.
		again, err := parseToken(appendToken(nil, 42, offsets), 42, nil)
		if err != nil || !slices.Equal(again, offsets) {
			t.Fatalf("%q: %v, again %v %v", tok, offsets, again, err)
		}
	})
}
