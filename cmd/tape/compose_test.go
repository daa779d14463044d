package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"tape/ui"
)

// composePath is the cluster definition operators run with docker compose.
const composePath = "../../compose.yaml"

// composeFile is what this test reads of the project compose-go loads
// (the loader docker compose itself uses: it validates the file against
// the Compose specification's schema, merges anchors, interpolates).
type composeFile struct {
	Services map[string]composeService
	Configs  map[string]struct{ Content string }
}

type composeService struct {
	Image       string
	Build       bool
	Command     []string
	Environment map[string]string
	DependsOn   map[string]string // service to condition
	Ports       []string          // published:target
	Networks    map[string]struct{ IPv4 string }
	Replicas    *int
	Configs     []struct{ Source, Target string }
	Healthcheck []string
	StopGrace   time.Duration
	Profiles    []string
}

// isTape reports whether the service runs the tape image.
func (s composeService) isTape() bool {
	return s.Build || strings.HasPrefix(s.Image, "tape:")
}

func (s composeService) replicas() int {
	if s.Replicas == nil {
		return 1
	}
	return *s.Replicas
}

// loadCompose loads compose.yaml with every profile enabled.
func loadCompose(t *testing.T) composeFile {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Dir(composePath))
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, filepath.Base(composePath))}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("tape", true)
		o.Profiles = []string{"*"}
	})
	if err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	c := composeFile{Services: map[string]composeService{}, Configs: map[string]struct{ Content string }{}}
	for name, cfg := range p.Configs {
		c.Configs[name] = struct{ Content string }{cfg.Content}
	}
	for name, s := range p.Services {
		cs := composeService{Image: s.Image, Build: s.Build != nil, Command: s.Command, Environment: map[string]string{},
			DependsOn: map[string]string{}, Networks: map[string]struct{ IPv4 string }{}, Profiles: s.Profiles}
		for k, v := range s.Environment {
			if v != nil {
				cs.Environment[k] = *v
			}
		}
		for k, d := range s.DependsOn {
			cs.DependsOn[k] = d.Condition
		}
		for _, port := range s.Ports {
			cs.Ports = append(cs.Ports, fmt.Sprintf("%s:%d", port.Published, port.Target))
		}
		for k, n := range s.Networks {
			v := struct{ IPv4 string }{}
			if n != nil {
				v.IPv4 = n.Ipv4Address
			}
			cs.Networks[k] = v
		}
		if s.Deploy != nil && s.Deploy.Replicas != nil {
			cs.Replicas = s.Deploy.Replicas
		}
		for _, cf := range s.Configs {
			cs.Configs = append(cs.Configs, struct{ Source, Target string }{cf.Source, cf.Target})
		}
		if s.HealthCheck != nil {
			cs.Healthcheck = s.HealthCheck.Test
		}
		if s.StopGracePeriod != nil {
			cs.StopGrace = time.Duration(*s.StopGracePeriod)
		}
		c.Services[name] = cs
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
	for _, name := range []string{"kafka", "topics", "ingest", "web1", "web2", "web3", "feed", "lb", "prometheus", "grafana"} {
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
	if want := []string{"feed", "ingest", "topics", "web1", "web2", "web3"}; !slices.Equal(tapeServices, want) {
		t.Errorf("services running tape: %v, want %v", tapeServices, want)
	}

	broker := strings.TrimPrefix(c.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://")
	wantCommand := map[string]string{"topics": "topics", "ingest": "ingest", "web1": "serve", "web2": "serve", "web3": "serve", "feed": "feed"}
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
		for _, w := range []string{"web1", "web2", "web3"} {
			if n := c.Services[w].replicas(); n != 1 {
				t.Errorf("%s replicas %d: nodes sharing one --node-id share one consumer group", w, n)
			}
		}
		ids := map[string]bool{}
		for _, w := range []string{"web1", "web2", "web3"} {
			ids[flagValue(c.Services[w].Command, "node-id")] = true
		}
		if len(ids) != 3 || ids[""] {
			t.Errorf("web node ids %v: want three distinct ids", ids)
		}
		if c.Services["kafka"].Environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] != "false" {
			t.Errorf("kafka auto-creates topics: a typo in a topic name would go unnoticed")
		}
	})

	t.Run("lb", func(t *testing.T) {
		lb := c.Services["lb"]
		if lb.DependsOn["web1"] == "" || lb.DependsOn["web2"] == "" || lb.DependsOn["web3"] == "" {
			t.Errorf("lb depends_on %v, want web1, web2 and web3", lb.DependsOn)
		}
		if !slices.Contains(lb.Ports, "8080:8080") || !slices.Contains(lb.Ports, "8443:8443") {
			t.Errorf("lb ports %v, want 8080:8080 and 8443:8443 (HTTP/2 over TLS)", lb.Ports)
		}
		if len(lb.Configs) != 1 {
			t.Fatalf("lb configs %v, want its Caddyfile", lb.Configs)
		}
		conf := c.Configs[lb.Configs[0].Source].Content
		if !slices.Contains(lb.Command, lb.Configs[0].Target) {
			t.Errorf("lb command %v does not read its config at %s", lb.Command, lb.Configs[0].Target)
		}
		for _, w := range []string{"web1", "web2", "web3"} {
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
		for _, w := range []string{"web1", "web2", "web3"} {
			if got := flagValue(c.Services[w].Command, "trusted-proxies"); lbAddr == "" || got != lbAddr {
				t.Errorf("%s --trusted-proxies %q, want the load balancer's fixed address %q", w, got, lbAddr)
			}
		}
		for _, want := range []string{"health_uri /readyz", "flush_interval -1", "lb_policy least_conn", "tls internal", "h2c"} {
			if !strings.Contains(conf, want) {
				t.Errorf("Caddyfile lacks %q:\n%s", want, conf)
			}
		}
	})

	t.Run("web nodes", func(t *testing.T) {
		for _, w := range []string{"web1", "web2", "web3"} {
			s := c.Services[w]
			if !slices.Equal(s.Healthcheck, []string{"CMD", "/tape", "probe", "http://127.0.0.1:8080/readyz"}) {
				t.Errorf("%s healthcheck %v, want tape probe of /readyz", w, s.Healthcheck)
			}
			drain, err := time.ParseDuration(flagValue(s.Command, "drain"))
			if err != nil {
				drain = ui.DefaultDrain
			}
			if s.StopGrace < drain+5*time.Second {
				t.Errorf("%s stop_grace_period %s: the drain (%s) needs it and some, or docker kills the node mid-drain", w, s.StopGrace, drain)
			}
		}
		// The probe the health check runs is a tape command.
		commandFlags(t, "probe")
	})

	t.Run("monitoring", func(t *testing.T) {
		for _, m := range []string{"prometheus", "grafana"} {
			if !slices.Contains(c.Services[m].Profiles, "monitoring") {
				t.Errorf("%s profiles %v: want only in the monitoring profile", m, c.Services[m].Profiles)
			}
		}
		prom := c.Configs["prometheus"].Content
		for _, w := range []string{"web1", "web2", "web3"} {
			if !strings.Contains(prom, `"`+w+`:8080"`) {
				t.Errorf("prometheus.yml does not scrape %s:\n%s", w, prom)
			}
		}
		if !strings.Contains(prom, "port: 9100") || flagValue(c.Services["ingest"].Command, "admin-addr") != ":9100" {
			t.Errorf("prometheus.yml does not scrape the ingesters' admin address:\n%s", prom)
		}
		checkDashboard(t, "../../deploy/grafana/tape.json")
	})
}

// checkDashboard parses the Grafana dashboard and checks that every tape
// metric its queries use is one a tape registry exposes.
func checkDashboard(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: %v (uid %q, %d panels)", path, err, d.UID, len(d.Panels))
	}
	known := exposedMetricNames(t)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(name, "_bucket")
				if !known[base] {
					t.Errorf("panel %q queries %s, which no tape registry exposes", p.Title, name)
				}
			}
		}
	}
}

var metricName = regexp.MustCompile(`tape_[a-z_]+`)

// exposedMetricNames lists the metric names declared in the collectors'
// sources (Desc and histogram names).
func exposedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range []string{"metrics.go", "../../ui/metrics.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(tape_[a-z_]+)"`).FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	return out
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
	// A record of the quotes topic is its fold position (seq). Its origin
	// may come twice, at two positions: a raw message both ingesters
	// normalised while its partition moved between them at start-up is
	// folded again, to the same values (at-least-once, once in effect).
	seen := map[string]bool{} // records web1 delivered up to the resume point
	var last sseEvent
	for range 3 {
		var q quoteJSON
		q, last = nextQuote(t, one, 10*time.Second)
		seen[q.Seq] = true
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
		if q.Seq == "" {
			t.Fatalf("quote without a fold position: %s", ev.Data)
		}
		if seen[q.Seq] {
			t.Fatalf("web2 resent record %s (%s), which web1 had delivered before the resume point", q.Seq, q.Origin)
		}
		if slices.ContainsFunc(resumed, func(r quoteJSON) bool { return r.Seq == q.Seq }) {
			t.Fatalf("web2 sent record %s (%s) twice", q.Seq, q.Origin)
		}
		resumed = append(resumed, q)
	}
	perSymbol := func(qs []quoteJSON) map[string][]string {
		m := map[string][]string{}
		for _, q := range qs {
			m[q.Symbol] = append(m[q.Symbol], q.Seq)
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
