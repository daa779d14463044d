# Local Kafka broker for tests (see scripts/kafka). Include from the main Makefile:
#   include scripts/kafka.mk
# The state dir is keyed by port, so kafka-down must get the same KAFKA_PORT.
KAFKA_PORT ?= 9092
# Path of scripts/kafka relative to this fragment, so `make -C` works too.
KAFKA_SCRIPT := $(dir $(lastword $(MAKEFILE_LIST)))kafka

.PHONY: kafka-up kafka-down kafka-status
kafka-up:
	TAPE_KAFKA_PORT=$(KAFKA_PORT) $(KAFKA_SCRIPT) up
kafka-down:
	TAPE_KAFKA_PORT=$(KAFKA_PORT) $(KAFKA_SCRIPT) down
kafka-status:
	TAPE_KAFKA_PORT=$(KAFKA_PORT) $(KAFKA_SCRIPT) status
