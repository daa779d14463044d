package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestMismatchedPartitionCountsAreRefused creates the events topic with
// fewer partitions than quotes and quotes.latest: tape topics says so, and
// an ingester refuses to start, since the fold of events partition p
// writes partition p of the others.
func TestMismatchedPartitionCountsAreRefused(t *testing.T) {
	brokers := testBrokers(t)
	id := uniqueID(t)
	tt := testTopics{"raw-" + id, "quotes-" + id, "latest-" + id, "dlq-" + id, "events-" + id, "nodes-" + id}
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 30 * time.Second, Transport: &kafka.Transport{}}
	res, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: tt.events, NumPartitions: 2, ReplicationFactor: 1}}})
	if err == nil {
		err = res.Errors[tt.events]
	}
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := environ{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	err = runEnv(ctx, append([]string{"topics", "--brokers", brokers, "--partitions", "3"}, tt.flags()...), env)
	want := fmt.Sprintf("%s, %s and %s have 2, 3 and 3 partitions", tt.events, tt.quotes, tt.latest)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("tape topics: %v\n%s; want an error saying %q", err, out.String(), want)
	}
	err = runEnv(ctx, append([]string{"ingest", "--brokers", brokers, "--group", "tape-ingest-" + id, "--fold-group", "tape-fold-" + id}, tt.flags()...), env)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("tape ingest: %v; want an error saying %q", err, want)
	}
}
