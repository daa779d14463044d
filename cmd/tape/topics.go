package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"tape"
	"tape/stream"
)

// topicNames are the topics of the contract; every command that touches
// Kafka takes the same flags for them.
type topicNames struct {
	raw, quotes, latest, dlq, events, nodes string
}

func (t *topicNames) register(fs *flag.FlagSet) {
	fs.StringVar(&t.raw, "topic-raw", tape.TopicRaw, "topic of raw vendor messages")
	fs.StringVar(&t.quotes, "topic-quotes", tape.TopicQuotes, "topic of folded quotes (key = symbol)")
	fs.StringVar(&t.latest, "topic-latest", tape.TopicLatest, "compacted topic of last values (key = symbol)")
	fs.StringVar(&t.dlq, "topic-dlq", tape.TopicDLQ, "dead-letter topic for rejected input")
	fs.StringVar(&t.events, "topic-events", tape.TopicEvents, "topic of normalised events between the normalisers and the folds (key = symbol)")
	fs.StringVar(&t.nodes, "topic-nodes", tape.TopicNodes, "compacted topic of web node and ingester heartbeats (key = process id), how they and pages find each other")
}

type topicsConfig struct {
	names         topicNames
	partitions    int
	rawPartitions int
	replication   int
}

func runTopics(ctx context.Context, args []string, env environ) error {
	fs := flagSet("topics", "Create the topics tape uses, or check that they exist with the right settings. Safe to run again.", env)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	var tc topicsConfig
	tc.names.register(fs)
	fs.IntVar(&tc.partitions, "partitions", 6, "partitions of feeds.events, quotes, quotes.latest (which must match) and feeds.dlq")
	fs.IntVar(&tc.rawPartitions, "raw-partitions", 6, "partitions of feeds.raw (the most ingesters that can share the work)")
	fs.IntVar(&tc.replication, "replication", 1, "replication factor of new topics")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	bl, err := brokerList(*brokers)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return kafkaWords(ensureTopics(ctx, bl, tc, env.stdout), bl)
}

// ensureTopics creates missing topics and checks existing ones: partition
// counts are reported; a latest topic that is not compacted, or events,
// quotes and latest topics whose partition counts differ, are errors (the
// fold writes partition p of quotes and latest from partition p of events).
func ensureTopics(ctx context.Context, brokers []string, tc topicsConfig, out io.Writer) error {
	if tc.partitions < 1 || tc.rawPartitions < 1 || tc.replication < 1 {
		return errors.New("topics: partitions and replication must be at least 1")
	}
	if tc.partitions > stream.MaxPartitions {
		return fmt.Errorf("topics: --partitions is %d; a web node reads at most %d partitions of %s", tc.partitions, stream.MaxPartitions, tc.names.quotes)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 15 * time.Second, Transport: &kafka.Transport{}}
	compact := []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
	want := []kafka.TopicConfig{
		{Topic: tc.names.raw, NumPartitions: tc.rawPartitions, ReplicationFactor: tc.replication},
		{Topic: tc.names.events, NumPartitions: tc.partitions, ReplicationFactor: tc.replication},
		{Topic: tc.names.quotes, NumPartitions: tc.partitions, ReplicationFactor: tc.replication},
		{Topic: tc.names.latest, NumPartitions: tc.partitions, ReplicationFactor: tc.replication, ConfigEntries: compact},
		{Topic: tc.names.dlq, NumPartitions: tc.partitions, ReplicationFactor: tc.replication},
		// A handful of heartbeats: one partition keeps them in order.
		{Topic: tc.names.nodes, NumPartitions: 1, ReplicationFactor: tc.replication, ConfigEntries: compact},
	}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: want})
	if err != nil {
		return fmt.Errorf("topics: create: %w", err)
	}
	var created []string
	for _, t := range want {
		switch err := res.Errors[t.Topic]; {
		case err == nil:
			created = append(created, t.Topic)
		case errors.Is(err, kafka.TopicAlreadyExists):
		default:
			return fmt.Errorf("topics: create %s: %w", t.Topic, err)
		}
	}
	names := make([]string, len(want))
	for i, t := range want {
		names[i] = t.Topic
	}
	// A topic just created may take a moment to show in metadata.
	var meta *kafka.MetadataResponse
	for attempt := 0; ; attempt++ {
		meta, err = client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err == nil && allKnown(meta) {
			break
		}
		if attempt == 50 || ctx.Err() != nil {
			return fmt.Errorf("topics: metadata: %v", errors.Join(err, ctx.Err(), errors.New("topics not visible")))
		}
		time.Sleep(100 * time.Millisecond)
	}
	parts := map[string]int{}
	for _, t := range meta.Topics {
		parts[t.Name] = len(t.Partitions)
	}
	policy, err := cleanupPolicy(ctx, client, tc.names.latest)
	if err != nil {
		return err
	}
	nodesPolicy, err := cleanupPolicy(ctx, client, tc.names.nodes)
	if err != nil {
		return err
	}
	for _, t := range want {
		state := "exists"
		if slices.Contains(created, t.Topic) {
			state = "created"
		}
		note := ""
		if parts[t.Topic] != t.NumPartitions && t.Topic != tc.names.nodes {
			note = fmt.Sprintf(" (asked for %d; partition counts are never changed here, since keys would move)", t.NumPartitions)
		}
		fmt.Fprintf(out, "%-8s %-16s %d partitions%s\n", state, t.Topic, parts[t.Topic], note)
	}
	if e, q, l := parts[tc.names.events], parts[tc.names.quotes], parts[tc.names.latest]; e != q || e != l {
		return fmt.Errorf("topics: %s, %s and %s have %d, %d and %d partitions; they must have the same count, since the fold of events partition p writes partition p of the other two (recreate the newest with the others' count)",
			tc.names.events, tc.names.quotes, tc.names.latest, e, q, l)
	}
	for _, p := range []struct{ topic, policy string }{{tc.names.latest, policy}, {tc.names.nodes, nodesPolicy}} {
		if p.policy != "compact" {
			return fmt.Errorf("topics: %s has cleanup.policy=%q; it must be compact (kafka-configs --alter --add-config cleanup.policy=compact)", p.topic, p.policy)
		}
	}
	return nil
}

func allKnown(meta *kafka.MetadataResponse) bool {
	for _, t := range meta.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			return false
		}
	}
	return true
}

func cleanupPolicy(ctx context.Context, client *kafka.Client, topic string) (string, error) {
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"cleanup.policy"},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("topics: describe %s: %w", topic, err)
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				return e.ConfigValue, nil
			}
		}
	}
	return "", nil
}
