package stream

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
)

// A resume token is the node's consumed offset (the next offset to read) in
// every partition of the quotes topic at the moment of an event. Every node
// reads the same partitions, so any node can resume from any node's token:
// it sends, for the client's symbols, every event at or past those offsets.
//
// Wire form (version 2): "2" + base64url(the fingerprint's low 16 bits,
// big-endian; uvarint offset per partition, in partition order). The
// fingerprint ties a token to one cluster and topic, so a token from
// elsewhere is recognised (but for one in 65,536) instead of silently
// misread. With 6 partitions at offsets below two million a token is 28
// bytes; with 12 near a billion, 84. Version 1 ("1" + base64url(uvarint
// fingerprint, uvarint partitions, uvarint offsets)), five bytes longer,
// is still read, so clients keep their place across an upgrade.

const (
	tokenVersion   = '2'
	tokenVersionV1 = '1'
)

// maxTokenLen bounds what is decoded from a Last-Event-ID header.
const maxTokenLen = 1024

var errToken = errors.New("stream: malformed resume token")

// Fingerprint identifies a cluster and topic in resume tokens.
func Fingerprint(clusterID, topic string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(clusterID))
	h.Write([]byte{0})
	h.Write([]byte(topic))
	return h.Sum32()
}

// appendToken appends the token for offsets to dst.
func appendToken(dst []byte, fingerprint uint32, offsets []int64) []byte {
	var raw [2 + binary.MaxVarintLen64*maxPartitions]byte
	binary.BigEndian.PutUint16(raw[:], uint16(fingerprint))
	n := 2
	for i, o := range offsets {
		if i == maxPartitions {
			break
		}
		n += binary.PutUvarint(raw[n:], uint64(o))
	}
	dst = append(dst, tokenVersion)
	return base64.RawURLEncoding.AppendEncode(dst, raw[:n])
}

// maxPartitions is the most partitions a token can name; Init refuses more.
const maxPartitions = MaxPartitions

// MaxPartitions is the most partitions of the quotes topic a node reads.
const MaxPartitions = 64

// ErrTooManyPartitions reports a quotes topic with more than MaxPartitions.
var ErrTooManyPartitions = fmt.Errorf("stream: the quotes topic has more than %d partitions", MaxPartitions)

// parseToken decodes a token of the cluster and topic of fingerprint into
// offsets (reusing their storage).
func parseToken(s []byte, fingerprint uint32, offsets []int64) ([]int64, error) {
	if len(s) < 2 || len(s) > maxTokenLen || (s[0] != tokenVersion && s[0] != tokenVersionV1) {
		return nil, errToken
	}
	var raw [maxTokenLen]byte
	n, err := base64.RawURLEncoding.Decode(raw[:], s[1:])
	if err != nil {
		return nil, errToken
	}
	b := raw[:n]
	count := uint64(maxPartitions)
	if s[0] == tokenVersionV1 {
		fp, k := binary.Uvarint(b)
		if k <= 0 || fp != uint64(fingerprint) {
			return nil, errToken
		}
		b = b[k:]
		if count, k = binary.Uvarint(b); k <= 0 || count == 0 || count > maxPartitions {
			return nil, errToken
		}
		b = b[k:]
	} else {
		if len(b) < 3 || binary.BigEndian.Uint16(b) != uint16(fingerprint) {
			return nil, errToken
		}
		b = b[2:]
	}
	offsets = offsets[:0]
	for len(b) > 0 && uint64(len(offsets)) < count {
		o, k := binary.Uvarint(b)
		if k <= 0 || o > 1<<62 {
			return nil, errToken
		}
		offsets = append(offsets, int64(o))
		b = b[k:]
	}
	if len(b) != 0 || len(offsets) == 0 || (s[0] == tokenVersionV1 && uint64(len(offsets)) != count) {
		return nil, errToken
	}
	return offsets, nil
}
