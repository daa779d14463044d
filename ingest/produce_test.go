package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"tape/ingest"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"message too large", kafka.MessageSizeTooLarge, ingest.Permanent},
		{"record list too large", kafka.RecordListTooLarge, ingest.Permanent},
		{"invalid record", kafka.InvalidRecord, ingest.Permanent},
		{"unknown topic or partition", kafka.UnknownTopicOrPartition, ingest.Permanent},
		{"topic authorization", kafka.TopicAuthorizationFailed, ingest.Permanent},
		{"cluster authorization", kafka.ClusterAuthorizationFailed, ingest.Permanent},
		{"invalid timestamp", kafka.InvalidTimestamp, ingest.Permanent},
		{"policy violation", kafka.PolicyViolation, ingest.Permanent},
		{"wrapped permanent", fmt.Errorf("produce: %w", kafka.MessageSizeTooLarge), ingest.Permanent},
		{"too large for the client", kafka.MessageTooLargeError{}, ingest.Permanent},
		{"topic not in the client's metadata", fmt.Errorf("kafka.(*Client).Produce: %w", protocol.NewErrNoTopic("feeds.dlq")), ingest.Permanent},
		{"partition not in the client's metadata", protocol.NewTopicError("quotes", protocol.ErrNoPartition), ingest.Permanent},
		{"not leader", kafka.NotLeaderForPartition, ingest.Retriable},
		{"leader not available", kafka.LeaderNotAvailable, ingest.Retriable},
		{"no leader in the client's metadata", protocol.NewTopicError("quotes", protocol.ErrNoLeader), ingest.Retriable},
		{"request timed out", kafka.RequestTimedOut, ingest.Retriable},
		{"not enough replicas", kafka.NotEnoughReplicas, ingest.Retriable},
		{"not enough replicas after append", kafka.NotEnoughReplicasAfterAppend, ingest.Retriable},
		{"storage error", kafka.KafkaStorageError, ingest.Retriable},
		{"unknown server error", kafka.Unknown, ingest.Retriable},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, ingest.Retriable},
		{"connection closed", io.EOF, ingest.Retriable},
		{"attempt timed out", fmt.Errorf("kafka.(*Client).Produce: %w", context.DeadlineExceeded), ingest.Retriable},
		{"anything else", errors.New("something odd"), ingest.Retriable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ingest.Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoffGrowsWithJitterAndIsBounded(t *testing.T) {
	low := func(int64) int64 { return 0 }
	high := func(n int64) int64 { return n - 1 }
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 25 * time.Millisecond, 50 * time.Millisecond},
		{2, 50 * time.Millisecond, 100 * time.Millisecond},
		{4, 200 * time.Millisecond, 400 * time.Millisecond},
		{7, 1600 * time.Millisecond, 3200 * time.Millisecond},
		{8, 2500 * time.Millisecond, 5 * time.Second},
		{1000, 2500 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(fmt.Sprint("attempt ", tc.attempt), func(t *testing.T) {
			if got := ingest.Backoff(tc.attempt, low); got != tc.min {
				t.Errorf("least backoff %s, want %s", got, tc.min)
			}
			if got := ingest.Backoff(tc.attempt, high); got != tc.max {
				t.Errorf("most backoff %s, want %s", got, tc.max)
			}
		})
	}
}

// TestCRC32PartitionIsLibrdkafkas checks that events are partitioned as
// kcat and librdkafka partition a key, so a symbol's events and quotes
// share a partition number.
func TestCRC32PartitionIsLibrdkafkas(t *testing.T) {
	parts := []int{0, 1, 2, 3, 4, 5}
	for _, key := range []string{"AAPL", "MSFT", "BRK.B", "BTC-USD", "EUR/USD", "ES=F", "^GSPC", "XAGG000", "A"} {
		want := (&kafka.CRC32Balancer{}).Balance(kafka.Message{Key: []byte(key)}, parts...)
		if got := ingest.CRC32Partition([]byte(key), len(parts)); got != want {
			t.Errorf("%s: partition %d, want %d", key, got, want)
		}
	}
}
