package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"tape"
	"tape/ingest"
	"tape/replay"
)

// speedValue parses --speed: a positive factor or "max".
type speedValue struct{ v float64 }

func (s *speedValue) String() string {
	if math.IsInf(s.v, 1) {
		return "max"
	}
	return strconv.FormatFloat(s.v, 'g', -1, 64)
}

func (s *speedValue) Set(v string) error {
	if strings.EqualFold(v, "max") {
		s.v = math.Inf(1)
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("speed must be a positive number or max")
	}
	s.v = f
	return nil
}

func runReplay(ctx context.Context, args []string, env environ) error {
	fs := flagSet("replay", "Replay a recorded feed (one raw message per line, plain or gzip) into the raw topic, paced by its timestamps.", env)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic-raw", ingest.DefaultRawTopic, "topic to produce to")
	file := fs.String("file", "", "recorded feed to replay (- for standard input)")
	format := fs.String("format", "", "format of the lines (default from the file name, as in x.polygon.jsonl.gz): "+strings.Join(ingest.Formats(), ", "))
	speed := speedValue{1}
	fs.Var(&speed, "speed", "pace: 1 is real time, 10 ten times faster, max as fast as the broker takes it")
	rate := fs.Float64("rate", 0, "fixed messages per second instead of the recorded pace")
	loop := fs.Bool("loop", false, "replay again from the start at the end, until stopped")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	bl, err := brokerList(*brokers)
	if err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("replay: --file is required")
	}
	if *format != "" {
		if _, ok := ingest.Lookup(*format); !ok {
			return fmt.Errorf("replay: unknown format %q (known: %s)", *format, strings.Join(ingest.Formats(), ", "))
		}
	}
	sum, err := replay.Run(ctx, replay.Config{
		Brokers: bl, Topic: *topic, Format: *format, Speed: speed.v, Rate: *rate, Loop: *loop,
		Stamp: stampOf,
	}, *file)
	fmt.Fprintf(env.stdout, "replayed %d messages in %s (%.0f msg/s), %d without a timestamp\n",
		sum.Messages, sum.Wall.Round(time.Millisecond), sum.Rate(), sum.Skipped)
	return err
}

// stampOf returns the time and first symbol of a raw message by
// normalising it.
func stampOf(format string, msg []byte) (time.Time, tape.Symbol, error) {
	f, ok := ingest.Lookup(format)
	if !ok {
		return time.Time{}, "", fmt.Errorf("unknown format %q", format)
	}
	evs, rejects := f.Normalize(nil, msg)
	if len(evs) == 0 {
		if len(rejects) > 0 {
			return time.Time{}, "", rejects[0].Err
		}
		return time.Time{}, "", fmt.Errorf("no event")
	}
	return evs[0].Time, evs[0].Symbol, nil
}
