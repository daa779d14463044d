// Command tape is the tape market ticker: ingesters, web nodes, replays and
// an all-in-one demo. Run "tape help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tape:", err)
		os.Exit(1)
	}
}

// errUsage is returned after a usage message has been printed.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env environ) error
}

// environ is what a command may touch of the outside world, so that tests
// can run the whole program in-process.
type environ struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// ready, if set, is called with the addresses a command listens on
	// once it serves ("http", "kafka").
	ready func(name, addr string)
	// flags, if set, is called with a command's flags before they are
	// parsed, so that tests can check them all.
	flags func(*flag.FlagSet)
}

func commands() []command {
	return []command{
		{"demo", "everything in one process on an embedded Kafka-protocol broker", runDemo},
		{"serve", "one web node: dashboard, SSE stream, JSON API", runServe},
		{"ingest", "one normaliser of raw feed messages; start several to share the work", runIngest},
		{"replay", "replay a recorded feed into Kafka", runReplay},
		{"feed", "a synthetic live feed adapter", runFeed},
		{"topics", "create or check the topics, idempotently", runTopics},
		{"bench", "load test: SSE subscribers and a producer", runBench},
		{"probe", "GET a URL and succeed only on 200 (container health checks)", runProbe},
		{"token", "print a signed token for web nodes that require one (--auth-secret-file)", runToken},
		{"version", "print the module version, commit and Go version of this binary", runVersion},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, environ{stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

func runEnv(ctx context.Context, args []string, env environ) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return runEnv(ctx, []string{args[1], "-h"}, env)
		}
		usage(env.stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-v" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], env)
		}
	}
	fmt.Fprintf(env.stderr, "tape: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "tape: a real-time market ticker on Kafka.")
	fmt.Fprintln(w, "\nUsage: tape <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set with an environment variable: --node-id is TAPE_NODE_ID.")
	fmt.Fprintln(w, "Run 'tape <command> -h' for a command's flags.")
}

func notYet(name string) func(context.Context, []string, environ) error {
	return func(_ context.Context, args []string, env environ) error {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(env.stdout, "tape %s: not yet available.\n", name)
			return nil
		}
		return fmt.Errorf("%s: not yet available", name)
	}
}
