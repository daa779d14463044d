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
// Wire form: "1" + base64url(uvarint fingerprint, uvarint partitions,
// uvarint offset...). The fingerprint ties a token to one cluster and topic,
// so a token from elsewhere is recognised instead of silently misread.
// With 12 partitions at offsets near a billion a token is about 80 bytes.

const tokenVersion = '1'

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
	var raw [10 * 66]byte
	n := binary.PutUvarint(raw[:], uint64(fingerprint))
	n += binary.PutUvarint(raw[n:], uint64(len(offsets)))
	for _, o := range offsets {
		if n+binary.MaxVarintLen64 > len(raw) {
			break // more than 64 partitions: see maxPartitions
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

// parseToken decodes a token into offsets (reusing its storage) and
// returns its fingerprint.
func parseToken(s []byte, offsets []int64) (uint32, []int64, error) {
	if len(s) < 2 || len(s) > maxTokenLen || s[0] != tokenVersion {
		return 0, nil, errToken
	}
	var raw [maxTokenLen]byte
	n, err := base64.RawURLEncoding.Decode(raw[:], s[1:])
	if err != nil {
		return 0, nil, errToken
	}
	b := raw[:n]
	fp, k := binary.Uvarint(b)
	if k <= 0 || fp > 1<<32-1 {
		return 0, nil, errToken
	}
	b = b[k:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count == 0 || count > maxPartitions {
		return 0, nil, errToken
	}
	b = b[k:]
	offsets = offsets[:0]
	for range count {
		o, k := binary.Uvarint(b)
		if k <= 0 || o > 1<<62 {
			return 0, nil, errToken
		}
		offsets = append(offsets, int64(o))
		b = b[k:]
	}
	if len(b) != 0 {
		return 0, nil, errToken
	}
	return uint32(fp), offsets, nil
}
