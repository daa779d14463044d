package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/segmentio/kafka-go"
)

// kafkaWords rewrites an error from kafka-go in words an operator can act
// on: a broker that cannot be reached says so and names the addresses;
// a Kafka error code says what it means here and what to do. Other
// errors pass through. The code stays in the message for searching.
func kafkaWords(err error, brokers []string) error {
	if err == nil {
		return nil
	}
	var ke kafka.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, kafka.BrokerNotAvailable):
		// kafka-go's Client reports a refused dial as code 8, "Broker Not
		// Available: not a client facing error", which misleads.
		return fmt.Errorf("the Kafka broker cannot be reached at %v: is it running, and are --brokers (TAPE_BROKERS) right? (%w)", brokers, err)
	case errors.As(err, &ke):
		if words, ok := kafkaCodeWords[ke]; ok {
			return fmt.Errorf("%s (Kafka error %d, %s): %w", words, int(ke), ke.Title(), err)
		}
		return fmt.Errorf("the broker refused: %s (Kafka error %d): %w", ke.Description(), int(ke), err)
	}
	return err
}

// kafkaCodeWords says what the Kafka errors tape's commands meet mean for
// them. Codes: https://kafka.apache.org/protocol#protocol_error_codes
var kafkaCodeWords = map[kafka.Error]string{
	kafka.UnknownTopicOrPartition:      "the topic does not exist: run tape topics (or check the --topic-* flags)",
	kafka.LeaderNotAvailable:           "the topic has no leader yet (just created, or a broker is down): retry in a moment",
	kafka.NotLeaderForPartition:        "the broker no longer leads this partition: retry",
	kafka.RequestTimedOut:              "the broker did not answer in time: it may be overloaded or partitioned",
	kafka.InvalidReplicationFactor:     "the replication factor is larger than the number of brokers: lower --replication",
	kafka.InvalidPartitionNumber:       "the partition count is not allowed: use --partitions of at least 1",
	kafka.TopicAuthorizationFailed:     "this client may not use the topic: grant it the topic's ACLs",
	kafka.ClusterAuthorizationFailed:   "this client may not create topics: create them as an administrator, or grant CREATE on the cluster",
	kafka.GroupAuthorizationFailed:     "this client may not use its consumer group: grant the group's ACLs",
	kafka.PolicyViolation:              "the broker's topic policy refuses these settings",
	kafka.InvalidConfiguration:         "the broker refuses a topic setting",
	kafka.NotController:                "the broker asked is not the controller: retry",
	kafka.MessageSizeTooLarge:          "a record is larger than the broker accepts (message.max.bytes)",
	kafka.SASLAuthenticationFailed:     "the broker refused the credentials",
	kafka.UnsupportedVersion:           "the broker does not speak a protocol version tape needs (Kafka 2.8 or later)",
	kafka.ReassignmentInProgress:       "partitions are being reassigned: retry when it is done",
	kafka.TopicDeletionDisabled:        "the broker does not allow deleting topics",
	kafka.NotEnoughReplicas:            "too few in-sync replicas to accept writes (min.insync.replicas)",
	kafka.NotEnoughReplicasAfterAppend: "written, but to too few in-sync replicas",
}
