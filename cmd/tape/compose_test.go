package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"tape/ui"
)

// composePath is the cluster definition operators run with docker compose.
const composePath = "../../compose.yaml"

// composeFile is the part of a compose file this test reads.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Command     []string       `yaml:"command"`
	Environment composeEnv     `yaml:"environment"`
	DependsOn   composeDepends `yaml:"depends_on"`
	Ports       []string       `yaml:"ports"`
	Networks    map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	} `yaml:"networks"`
	Deploy struct {
		Replicas *int `yaml:"replicas"`
	} `yaml:"deploy"`
	Configs []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// isTape reports whether the service runs the tape image.
func (s composeService) isTape() bool {
	return s.Build != nil || strings.HasPrefix(s.Image, "tape:")
}

func (s composeService) replicas() int {
	if s.Deploy.Replicas == nil {
		return 1
	}
	return *s.Deploy.Replicas
}

// composeEnv is a service's environment, written as a map or as a list
// of NAME=value.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	*e = composeEnv{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	return n.Decode((*map[string]string)(e))
}

// composeDepends is depends_on, written as a list of services or as a
// map of service to condition.
type composeDepends map[string]string

func (d *composeDepends) UnmarshalYAML(n *yaml.Node) error {
	*d = composeDepends{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for s, c := range m {
		(*d)[s] = c.Condition
	}
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	return c
}

// commandFlags returns the flags a tape subcommand defines, read from its
// own -h output, and fails the test when name is no subcommand.
func commandFlags(t *testing.T, name string) map[string]bool {
	t.Helper()
	var out, errOut strings.Builder
	err := runEnv(context.Background(), []string{name, "-h"}, environ{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("tape %s -h: %v, want the command's help\n%s%s", name, err, out.String(), errOut.String())
	}
	flags := map[string]bool{}
	for _, m := range usageFlag.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("tape %s -h lists no flags:\n%s", name, out.String())
	}
	return flags
}

var usageFlag = regexp.MustCompile(`(?m)^  --([a-z0-9-]+) `)

// flagValue returns the value of --name in a command, or "".
func flagValue(cmd []string, name string) string {
	for i, a := range cmd {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	return ""
}

// TestComposeFileDescribesTheCluster checks compose.yaml against the tape
// binary: the services of the documented cluster, and commands that tape
// accepts, flag by flag.
func TestComposeFileDescribesTheCluster(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"kafka", "topics", "ingest", "web1", "web2", "feed", "lb"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose.yaml has no service %q", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var tapeServices []string
	for name, s := range c.Services {
		if s.isTape() {
			tapeServices = append(tapeServices, name)
		}
	}
	slices.Sort(tapeServices)
	if want := []string{"feed", "ingest", "topics", "web1", "web2"}; !slices.Equal(tapeServices, want) {
		t.Errorf("services running tape: %v, want %v", tapeServices, want)
	}

	broker := strings.TrimPrefix(c.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://")
	wantCommand := map[string]string{"topics": "topics", "ingest": "ingest", "web1": "serve", "web2": "serve", "feed": "feed"}
	for _, name := range tapeServices {
		t.Run(name, func(t *testing.T) {
			s := c.Services[name]
			if len(s.Command) == 0 {
				t.Fatal("no command")
			}
			if s.Command[0] != wantCommand[name] {
				t.Errorf("command %v: want tape %s", s.Command, wantCommand[name])
			}
			if s.Image != c.Services["topics"].Image {
				t.Errorf("image %q, want the same image as topics (%q)", s.Image, c.Services["topics"].Image)
			}
			defined := commandFlags(t, s.Command[0])
			for _, a := range s.Command[1:] {
				if !strings.HasPrefix(a, "-") {
					continue
				}
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !defined[name] {
					t.Errorf("command %v: tape %s has no flag --%s", s.Command, s.Command[0], name)
				}
			}
			// Parsing the whole command, then -h, shows that every value
			// parses too (a bad one is a usage error, not help).
			var out, errOut strings.Builder
			err := runEnv(context.Background(), append(slices.Clone(s.Command), "-h"), environ{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("tape %s does not parse: %v\n%s", strings.Join(s.Command, " "), err, errOut.String())
			}
			for k := range s.Environment {
				if name, ok := strings.CutPrefix(k, "TAPE_"); !ok || !defined[strings.ReplaceAll(strings.ToLower(name), "_", "-")] {
					t.Errorf("environment %s is no flag of tape %s", k, s.Command[0])
				}
			}
			if got := s.Environment["TAPE_BROKERS"]; got != broker || broker == "" {
				t.Errorf("TAPE_BROKERS=%q, want kafka's advertised listener %q", got, broker)
			}
			switch name {
			case "topics":
				if s.DependsOn["kafka"] != "service_healthy" {
					t.Errorf("topics depends_on %v, want kafka healthy", s.DependsOn)
				}
			default:
				if s.DependsOn["topics"] != "service_completed_successfully" {
					t.Errorf("depends_on %v, want topics completed successfully (kafka does not auto-create topics)", s.DependsOn)
				}
			}
		})
	}

	t.Run("replicas", func(t *testing.T) {
		if n := c.Services["ingest"].replicas(); n != 2 {
			t.Errorf("ingest replicas %d, want 2", n)
		}
		raw, err := strconv.Atoi(flagValue(c.Services["topics"].Command, "raw-partitions"))
		if err != nil || raw < c.Services["ingest"].replicas() {
			t.Errorf("topics --raw-partitions %q: want at least one raw partition per ingester (%d)", flagValue(c.Services["topics"].Command, "raw-partitions"), c.Services["ingest"].replicas())
		}
		for _, w := range []string{"web1", "web2"} {
			if n := c.Services[w].replicas(); n != 1 {
				t.Errorf("%s replicas %d: nodes sharing one --node-id share one consumer group", w, n)
			}
		}
		id1, id2 := flagValue(c.Services["web1"].Command, "node-id"), flagValue(c.Services["web2"].Command, "node-id")
		if id1 == "" || id2 == "" || id1 == id2 {
			t.Errorf("web node ids %q and %q: want two distinct ids", id1, id2)
		}
		if c.Services["kafka"].Environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] != "false" {
			t.Errorf("kafka auto-creates topics: a typo in a topic name would go unnoticed")
		}
	})

	t.Run("lb", func(t *testing.T) {
		lb := c.Services["lb"]
		if lb.DependsOn["web1"] == "" || lb.DependsOn["web2"] == "" {
			t.Errorf("lb depends_on %v, want web1 and web2", lb.DependsOn)
		}
		if !slices.Contains(lb.Ports, "8080:8080") {
			t.Errorf("lb ports %v, want 8080:8080", lb.Ports)
		}
		if len(lb.Configs) != 1 {
			t.Fatalf("lb configs %v, want its Caddyfile", lb.Configs)
		}
		conf := c.Configs[lb.Configs[0].Source].Content
		if !slices.Contains(lb.Command, lb.Configs[0].Target) {
			t.Errorf("lb command %v does not read its config at %s", lb.Command, lb.Configs[0].Target)
		}
		for _, w := range []string{"web1", "web2"} {
			addr := flagValue(c.Services[w].Command, "addr")
			_, port, _ := strings.Cut(addr, ":")
			if !strings.Contains(conf, w+":"+port) {
				t.Errorf("Caddyfile does not proxy to %s:%s (its --addr %q):\n%s", w, port, addr, conf)
			}
		}
		// Every node trusts the load balancer's X-Forwarded-For, and only
		// the load balancer's: else all browsers share its address and
		// one per-client stream limit.
		lbAddr := lb.Networks["default"].IPv4
		for _, w := range []string{"web1", "web2"} {
			if got := flagValue(c.Services[w].Command, "trusted-proxies"); lbAddr == "" || got != lbAddr {
				t.Errorf("%s --trusted-proxies %q, want the load balancer's fixed address %q", w, got, lbAddr)
			}
		}
		for _, want := range []string{"health_uri /readyz", "flush_interval -1"} {
			if !strings.Contains(conf, want) {
				t.Errorf("Caddyfile lacks %q:\n%s", want, conf)
			}
		}
	})
}

// TestComposeTopologyServesAndResumesAcrossNodes runs compose.yaml's tape
// services as they are written, on this machine against the test broker
// (with the test's own topics, ports and ids appended), and checks what
// the cluster promises: both web nodes serve the feed's quotes, and a
// stream resumes on the other node with exactly what it missed.
func TestComposeTopologyServesAndResumesAcrossNodes(t *testing.T) {
	brokers := testBrokers(t)
	c := loadCompose(t)
	id := uniqueID(t)
	began := time.Now()

	topicsCmd := c.Services["topics"].Command
	parts, err := strconv.Atoi(flagValue(topicsCmd, "partitions"))
	if err != nil {
		t.Fatalf("topics --partitions in %v: %v", topicsCmd, err)
	}
	tt := newTopics(t, brokers, id, parts)
	overrides := func(cmd []string) []string {
		defined := commandFlags(t, cmd[0])
		// The flag package lets a later flag win, so compose's command
		// runs as written, with the test's settings after it.
		args := append(slices.Clone(cmd), "--brokers", brokers)
		tf := tt.flags()
		for i := 0; i < len(tf); i += 2 {
			if defined[strings.TrimPrefix(tf[i], "--")] {
				args = append(args, tf[i], tf[i+1])
			}
		}
		for _, listen := range []string{"addr", "admin-addr"} {
			if flagValue(cmd, listen) != "" {
				args = append(args, "--"+listen, "127.0.0.1:0")
			}
		}
		return args
	}
	runOK(t, overrides(topicsCmd)...) // as compose runs it: again, idempotently

	var ingesters []string
	ing := c.Services["ingest"]
	for range ing.replicas() {
		args := append(overrides(ing.Command), "--group", "tape-ingest-"+id, "--fold-group", "tape-fold-"+id)
		var want []string
		if flagValue(ing.Command, "admin-addr") != "" {
			want = []string{"ingest-http"}
		}
		s := start(t, want, args...)
		ingesters = append(ingesters, s.addrs["ingest-http"])
	}
	webs := map[string]string{} // service to base URL
	nodeIDs := map[string]string{}
	for _, w := range []string{"web1", "web2"} {
		cmd := c.Services[w].Command
		nodeIDs[w] = flagValue(cmd, "node-id") + "-" + id
		s := start(t, []string{"http"}, append(overrides(cmd), "--node-id", nodeIDs[w])...)
		webs[w] = "http://" + s.addrs["http"]
	}
	start(t, nil, overrides(c.Services["feed"].Command)...)
	for _, w := range []string{"web1", "web2"} {
		waitReady(t, webs[w])
	}
	t.Logf("cluster up in %s", time.Since(began).Round(time.Millisecond))

	// Both nodes serve the feed's quotes.
	deadline := time.Now().Add(30 * time.Second)
	served := map[string]map[string]bool{} // node to symbols
	for _, w := range []string{"web1", "web2"} {
		for {
			qs := apiQuotes(t, webs[w])
			if len(qs) > 0 {
				served[w] = map[string]bool{}
				for _, q := range qs {
					if q.Source != "polygon" || q.Symbol == "" || q.Bid == "" && q.Last == "" {
						t.Errorf("%s: quote %+v, want the feed's polygon quotes", w, q)
					}
					served[w][q.Symbol] = true
				}
				t.Logf("%s serves %d symbols after %s", w, len(qs), time.Since(began).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s serves no quotes 30s after the feed started", w)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The stream's symbols are ones both nodes know: a node answers 400
	// for a symbol it has never seen.
	var symbols []string
	for sym := range served["web1"] {
		if served["web2"][sym] {
			symbols = append(symbols, sym)
		}
	}
	if len(symbols) == 0 {
		t.Fatalf("web1 serves %v and web2 %v: no symbol in common", served["web1"], served["web2"])
	}
	slices.Sort(symbols)

	// Both ingesters got raw partitions to work on.
	for i, addr := range ingesters {
		if addr == "" {
			continue
		}
		for {
			raw := ingestRaw(t, "http://"+addr)
			if raw > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ingester %d of %d has consumed no raw message: the replicas do not share the work", i+1, len(ingesters))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// A stream on web1, then a resume on web2 from its last event id.
	query := "/events?symbols=" + url.QueryEscape(strings.Join(symbols, ","))
	one := openSSE(t, webs["web1"]+query, "")
	if got := one.res.Header.Get("X-Tape-Node"); got != nodeIDs["web1"] {
		t.Fatalf("stream served by node %q, want %q", got, nodeIDs["web1"])
	}
	if ev := one.next(t, 10*time.Second); ev.Event != "snapshot" {
		t.Fatalf("web1: first event %+v, want a snapshot", ev)
	}
	seen := map[string]bool{} // origins web1 delivered up to the resume point
	var last sseEvent
	for range 3 {
		var q quoteJSON
		q, last = nextQuote(t, one, 10*time.Second)
		seen[q.Origin] = true
	}
	if last.ID == "" {
		t.Fatal("web1: quote event without an id")
	}

	// A browser's EventSource reconnects after the retry delay the node
	// sent; so does this client. (At once, a node that has not yet read as
	// far as the token in every partition answers with a snapshot.)
	time.Sleep(ui.DefaultRetry)
	two := openSSE(t, webs["web2"]+query, last.ID)
	if got := two.res.Header.Get("X-Tape-Node"); got != nodeIDs["web2"] {
		t.Fatalf("resumed stream served by node %q, want %q", got, nodeIDs["web2"])
	}
	// What web2 sends from the resume point must be what web1 sends after
	// it: per symbol the same quotes in the same order (partitions may
	// interleave differently on the two nodes), none of them repeated.
	const want = 20
	var resumed []quoteJSON
	for len(resumed) < want {
		ev := two.next(t, 10*time.Second)
		if ev.Event != "quote" {
			t.Fatalf("web2 resumed with %s event %q after %d quotes, want quote events only", ev.Event, ev.Data, len(resumed))
		}
		var q quoteJSON
		if err := json.Unmarshal([]byte(ev.Data), &q); err != nil {
			t.Fatalf("quote %q: %v", ev.Data, err)
		}
		if seen[q.Origin] {
			t.Fatalf("web2 resent %s, which web1 had delivered before the resume point", q.Origin)
		}
		if slices.ContainsFunc(resumed, func(r quoteJSON) bool { return r.Origin == q.Origin }) {
			t.Fatalf("web2 sent %s twice", q.Origin)
		}
		resumed = append(resumed, q)
	}
	perSymbol := func(qs []quoteJSON) map[string][]string {
		m := map[string][]string{}
		for _, q := range qs {
			m[q.Symbol] = append(m[q.Symbol], q.Origin)
		}
		return m
	}
	b := perSymbol(resumed)
	covered := func(a map[string][]string) bool {
		for sym, got := range b {
			if len(a[sym]) < len(got) {
				return false
			}
		}
		return true
	}
	var continued []quoteJSON
	for !covered(perSymbol(continued)) {
		q, _ := nextQuote(t, one, 10*time.Second)
		continued = append(continued, q)
	}
	a := perSymbol(continued)
	for sym, got := range b {
		if !slices.Equal(got, a[sym][:len(got)]) {
			t.Errorf("%s after the resume point:\n web1 %v\n web2 %v", sym, a[sym][:len(got)], got)
		}
	}
	t.Logf("resumed on web2: %d quotes as web1 sent them after the resume point; total %s", len(resumed), time.Since(began).Round(time.Millisecond))

	// Hang up while the feed still runs, so that the nodes notice at their
	// next write and stop without waiting out their drain window.
	one.res.Body.Close()
	two.res.Body.Close()
	for _, w := range []string{"web1", "web2"} {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && sseStreams(t, webs[w]) > 0; {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// sseStreams reads tape_sse_streams from a web node's /metrics.
func sseStreams(t *testing.T, base string) int64 {
	t.Helper()
	return metric(t, base, "tape_sse_streams")
}

// ingestRaw reads tape_ingest_raw_total from an ingester's /metrics.
func ingestRaw(t *testing.T, base string) int64 {
	t.Helper()
	return metric(t, base, "tape_ingest_raw_total")
}

// metric reads an unlabelled metric from a /metrics page.
func metric(t *testing.T, base, name string) int64 {
	t.Helper()
	for _, line := range strings.Split(get(t, base+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("%s/metrics: %q: %v", base, line, err)
			}
			return n
		}
	}
	t.Fatalf("%s/metrics has no %s", base, name)
	return 0
}
