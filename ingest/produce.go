package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// Produce limits and retry pacing.
const (
	// DefaultMaxRequestBytes bounds the records of one produce request, a
	// little under the broker's default message.max.bytes (1048588), which
	// limits a whole record batch.
	DefaultMaxRequestBytes = 1_000_000
	// maxRequestRecords bounds the records of one produce request.
	maxRequestRecords = 10_000
	// recordOverhead is what a record adds to a batch beyond its key,
	// value and headers (lengths, offsets, timestamps), rounded up.
	recordOverhead = 24
	// produceTimeout bounds one produce request.
	produceTimeout = 10 * time.Second
	// Backoff between attempts of a retriable failure: exponential from
	// backoffMin to backoffMax, with jitter.
	backoffMin = 50 * time.Millisecond
	backoffMax = 5 * time.Second
)

// record is one record for an explicit partition.
type record struct {
	topic      string
	partition  int
	key, value []byte
	headers    []kafka.Header
	// src and elem say what the record came from (a message of the
	// caller's batch and an element of it), for refusals.
	src, elem int
}

func (r *record) size() int {
	n := len(r.key) + len(r.value) + recordOverhead
	for _, h := range r.headers {
		n += len(h.Key) + len(h.Value) + 4
	}
	return n
}

// refusal is a record the broker refused for good.
type refusal struct {
	rec *record
	err error
}

// errNotSent marks records a sink left unsent because an earlier record of
// the same partition was refused (see sink.write's ordered argument).
var errNotSent = errors.New("ingest: not sent: an earlier record of the partition was refused")

// Error classes of a failed produce.
const (
	retriable = iota
	permanent
)

// permanentCodes are the broker errors that no retry can cure: the record
// or the request is wrong for this topic, or the topic is not there or
// not ours. Every other error (leader moves, timeouts, lost connections,
// not enough replicas, unknown server errors) is retried: giving up on
// those would drop output, and a partition that retries for too long is
// reported as stalled instead.
var permanentCodes = map[kafka.Error]bool{
	kafka.MessageSizeTooLarge:         true,
	kafka.RecordListTooLarge:          true,
	kafka.InvalidRecord:               true,
	kafka.InvalidMessageSize:          true,
	kafka.InvalidTimestamp:            true,
	kafka.UnknownTopicOrPartition:     true,
	kafka.InvalidTopic:                true,
	kafka.TopicAuthorizationFailed:    true,
	kafka.ClusterAuthorizationFailed:  true,
	kafka.SASLAuthenticationFailed:    true,
	kafka.InvalidRequiredAcks:         true,
	kafka.UnsupportedForMessageFormat: true,
	kafka.UnsupportedCompressionType:  true,
	kafka.UnsupportedVersion:          true,
	kafka.PolicyViolation:             true,
	kafka.InvalidRequest:              true,
}

// classify says whether a produce error is worth retrying.
func classify(err error) int {
	var kerr kafka.Error
	var tooLarge kafka.MessageTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return permanent
	case errors.As(err, &kerr):
		if permanentCodes[kerr] {
			return permanent
		}
		return retriable
	case errors.Is(err, protocol.ErrNoTopic), errors.Is(err, protocol.ErrNoPartition):
		// The client's metadata has no such topic or partition:
		// UnknownTopicOrPartition before a request was even sent.
		return permanent
	}
	return retriable
}

// isTooLarge reports whether err says a request was too big, which
// splitting it may cure.
func isTooLarge(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.RecordListTooLarge)
}

// backoff returns how long to wait before attempt (1 for the first
// retry): exponential between backoffMin and backoffMax, then "equal
// jitter" (half fixed, half random, from rnd, which returns a value in
// [0, n)), so that ingesters that failed together do not retry together.
func backoff(attempt int, rnd func(n int64) int64) time.Duration {
	d := backoffMin
	for i := 1; i < attempt && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	half := int64(d / 2)
	return time.Duration(half + rnd(half+1))
}

// crc32Partition is the partition librdkafka's default partitioner (and
// kafka.CRC32Balancer) picks for a non-empty key among n partitions.
func crc32Partition(key []byte, n int) int {
	return int(crc32.ChecksumIEEE(key) % uint32(n))
}

// sink produces records to explicit partitions. Each request carries the
// records of one partition, in order, so that it is appended whole or not
// at all; partitions are written in parallel, the requests of one
// partition one after another. Only failed requests are sent again, so
// output the broker acknowledged is never produced twice.
//
// A sink is safe for concurrent use.
type sink struct {
	client   *kafka.Client
	maxBytes int
	// retries counts failed attempts that were retried.
	retries *atomic.Int64
	// failing, if set, hears of every failed attempt, for stall reports.
	failing func(topic string, partition int, err error)
	rnd     func(int64) int64
}

func newSink(brokers []string, transport *kafka.Transport, maxBytes int, retries *atomic.Int64) *sink {
	return &sink{
		client:   &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: produceTimeout, Transport: transport},
		maxBytes: maxBytes,
		retries:  retries,
		rnd:      rand.Int64N,
	}
}

// withFailing returns a copy of s that records failed attempts as the
// latest error of l.
func (s *sink) withFailing(l lane) *sink {
	c := *s
	c.failing = func(topic string, partition int, err error) {
		l.failed(fmt.Errorf("%s/%d: %w", topic, partition, err))
	}
	return &c
}

// write produces recs, retrying what fails for a retriable reason until
// it is acknowledged or ctx ends (then it returns ctx's error and the
// caller must not commit). It returns the records refused for good. With
// ordered set, a refusal also stops the rest of that partition's records,
// which are returned with errNotSent: for writes whose last record must
// not land without the ones before it.
func (s *sink) write(ctx context.Context, recs []record, ordered bool) ([]refusal, error) {
	// Group by topic and partition, keeping each group's order.
	type group struct {
		topic     string
		partition int
		recs      []*record
	}
	var groups []*group
	index := map[struct {
		t string
		p int
	}]*group{}
	for i := range recs {
		r := &recs[i]
		k := struct {
			t string
			p int
		}{r.topic, r.partition}
		g := index[k]
		if g == nil {
			g = &group{topic: r.topic, partition: r.partition}
			index[k] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, r)
	}
	var (
		mu      sync.Mutex
		refused []refusal
		wg      sync.WaitGroup
	)
	now := time.Now()
	run := func(g *group) {
		var out []refusal
		for len(g.recs) > 0 {
			n, size := 0, 0
			for n < len(g.recs) && n < maxRequestRecords && (n == 0 || size+g.recs[n].size() <= s.maxBytes) {
				size += g.recs[n].size()
				n++
			}
			before := len(out)
			if err := s.send(ctx, g.topic, g.partition, g.recs[:n], now, &out); err != nil {
				return // ctx ended
			}
			g.recs = g.recs[n:]
			if ordered && len(out) > before {
				for _, r := range g.recs {
					out = append(out, refusal{r, errNotSent})
				}
				break
			}
		}
		mu.Lock()
		refused = append(refused, out...)
		mu.Unlock()
	}
	if len(groups) == 1 {
		run(groups[0])
	} else {
		for _, g := range groups {
			wg.Go(func() { run(g) })
		}
		wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return refused, nil
}

// send produces recs (one partition) in one request, retrying retriable
// failures with backoff. A request too large for the broker is split in
// two and each half sent in order; a record refused for good is added to
// out, and so are all records of a request refused as a whole. It returns
// an error only when ctx ends.
func (s *sink) send(ctx context.Context, topic string, partition int, recs []*record, now time.Time, out *[]refusal) error {
	for attempt := 1; ; attempt++ {
		recErrs, err := s.produce(ctx, topic, partition, recs, now)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if classify(err) == permanent {
			switch {
			case isTooLarge(err) && len(recs) > 1:
				half := len(recs) / 2
				if err := s.send(ctx, topic, partition, recs[:half], now, out); err != nil {
					return err
				}
				return s.send(ctx, topic, partition, recs[half:], now, out)
			case len(recErrs) > 0 && len(recErrs) < len(recs):
				// The broker named the bad records (KIP-467): refuse them,
				// send the rest (nothing of the batch was appended).
				var rest []*record
				for i, r := range recs {
					if e, bad := recErrs[i]; bad {
						*out = append(*out, refusal{r, errors.Join(err, e)})
					} else {
						rest = append(rest, r)
					}
				}
				recs, attempt = rest, 0
				continue
			}
			for _, r := range recs {
				*out = append(*out, refusal{r, err})
			}
			return nil
		}
		s.retries.Add(1)
		if s.failing != nil {
			s.failing(topic, partition, err)
		}
		t := time.NewTimer(backoff(attempt, s.rnd))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// produce sends one request and returns its error, with the broker's
// per-record errors when it named any.
func (s *sink) produce(ctx context.Context, topic string, partition int, recs []*record, now time.Time) (map[int]error, error) {
	ctx, cancel := context.WithTimeout(ctx, produceTimeout)
	defer cancel()
	res, err := s.client.Produce(ctx, &kafka.ProduceRequest{
		Topic:        topic,
		Partition:    partition,
		RequiredAcks: kafka.RequireAll,
		Records:      &recordReader{recs: recs, time: now},
	})
	switch {
	case err != nil:
		return nil, err
	case res == nil:
		return nil, nil
	case res.Error != nil:
		return res.RecordErrors, res.Error
	}
	return nil, nil
}

// recordReader hands records to the Kafka client without copying them.
type recordReader struct {
	recs       []*record
	i          int
	time       time.Time
	rec        kafka.Record
	key, value bytesReader
}

func (r *recordReader) ReadRecord() (*kafka.Record, error) {
	if r.i >= len(r.recs) {
		return nil, io.EOF
	}
	m := r.recs[r.i]
	r.i++
	r.rec = kafka.Record{Time: r.time, Headers: m.headers}
	if m.key != nil {
		r.key.Reset(m.key)
		r.rec.Key = &r.key
	}
	if m.value != nil {
		r.value.Reset(m.value)
		r.rec.Value = &r.value
	}
	return &r.rec, nil
}

type bytesReader struct{ bytes.Reader }

func (*bytesReader) Close() error { return nil }
