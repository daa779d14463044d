package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
)

// allCommandFlags returns every command's flags, by name.
func allCommandFlags(t *testing.T) map[string]map[string]*flag.Flag {
	t.Helper()
	out := map[string]map[string]*flag.Flag{}
	for _, c := range commands() {
		env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
		env.flags = func(fs *flag.FlagSet) {
			m := map[string]*flag.Flag{}
			fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f })
			out[c.name] = m
		}
		if err := c.run(context.Background(), []string{"-h"}, env); err != flag.ErrHelp {
			t.Fatalf("%s -h: %v", c.name, err)
		}
	}
	return out
}

// TestOneEnvironmentVariableOneMeaning: a flag name, and so its TAPE_*
// variable, means one thing in every command that has it, so one
// environment can configure every command.
func TestOneEnvironmentVariableOneMeaning(t *testing.T) {
	byName := map[string][]string{}
	all := allCommandFlags(t)
	for cmd, flags := range all {
		for name, f := range flags {
			byName[name] = append(byName[name], fmt.Sprintf("%s:%T", cmd, f.Value))
		}
	}
	for name, uses := range byName {
		kinds := map[string]bool{}
		for _, u := range uses {
			_, kind, _ := strings.Cut(u, ":")
			kinds[kind] = true
		}
		if len(kinds) > 1 {
			t.Errorf("%s (%s) has different kinds of value across commands: %v", name, envName(name), uses)
		}
	}
	// The cases that were reported: each now has its own name.
	if _, ok := all["feed"]["history"]; ok {
		t.Error("feed still has --history (a file), while serve's --history is a duration")
	}
	if _, ok := all["serve"]["symbols"]; ok {
		t.Error("serve still has --symbols (a watchlist), while feed's and bench's are a count or list")
	}
	if _, ok := all["ingest"]["addr"]; ok {
		t.Error("ingest still has --addr (its admin listener), while serve's is its HTTP listener")
	}
}

// TestOneEnvironmentConfiguresEveryCommand: the variables that used to
// mean two things are read by every command without error.
func TestOneEnvironmentConfiguresEveryCommand(t *testing.T) {
	vars := map[string]string{"TAPE_HISTORY": "30m", "TAPE_SYMBOLS": "AAPL,MSFT", "TAPE_WATCHLIST": "AAPL", "TAPE_ADDR": "127.0.0.1:0"}
	for _, c := range commands() {
		var parseErr error
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
		env.flags = func(got *flag.FlagSet) { fs = got }
		c.run(context.Background(), []string{"-h"}, env) // registers the flags
		parseErr = parse(fs, nil, env)
		if parseErr != nil {
			t.Errorf("tape %s with %v: %v", c.name, vars, parseErr)
		}
	}
}

// TestFlagsOutOfRangeAreRefusedAtStart: a web node refuses settings that
// cannot work before it starts, naming the flag and its range.
func TestFlagsOutOfRangeAreRefusedAtStart(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--drain", "-3s"}, "--drain is -3s, want 0s to 10m"},
		{[]string{"--heartbeat", "-1s"}, "--heartbeat is -1s, want 100ms to 10m"},
		{[]string{"--max-streams-per-ip", "-1"}, "--max-streams-per-ip is -1, want at least 1"},
		{[]string{"--stall-timeout", "1ms"}, "--stall-timeout is 1ms"},
		{[]string{"--max-streams", "0"}, "--max-streams is 0"},
		{[]string{"--history-size", "-5"}, "--history-size is -5"},
		{[]string{"--symbol-limit", "-1"}, "--symbol-limit is -1"},
		{[]string{"--trusted-proxies", "lb.example"}, `--trusted-proxies: trusted proxy "lb.example"`},
		{[]string{"--node-id", "a b"}, "--node-id"},
		{[]string{"--watchlist", "<b>"}, "--watchlist"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env := environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
			err := runServe(context.Background(), append([]string{"--brokers", "127.0.0.1:1", "--addr", "127.0.0.1:0"}, tt.args...), env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("serve %v: %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
