package ui

import (
	"net/netip"
	"testing"
	"time"
)

// TestClientAddressFromTrustedProxies: per-client limits count against the
// right-most X-Forwarded-For address that is not a trusted proxy, parsed
// as addresses, never as raw header text.
func TestClientAddressFromTrustedProxies(t *testing.T) {
	trusted, err := parseTrustedProxies([]string{"10.0.0.0/8", "::1", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	lb := "10.0.0.5"
	for _, tt := range []struct {
		name    string
		peer    string
		headers []string
		want    string
	}{
		{"direct client, header ignored", "6.6.6.6", []string{"1.2.3.4"}, "6.6.6.6"},
		{"behind the load balancer", lb, []string{"6.6.6.6"}, "6.6.6.6"},
		{"spoofed junk left of the real client", lb, []string{"junk-1, 6.6.6.6"}, "6.6.6.6"},
		{"spoofed address left of the real client", lb, []string{"1.1.1.1, 6.6.6.6"}, "6.6.6.6"},
		{"spaces and empty entries", lb, []string{" 6.6.6.6 "}, "6.6.6.6"},
		{"two proxies", lb, []string{"6.6.6.6, 10.1.1.1"}, "6.6.6.6"},
		{"header split over lines", lb, []string{"1.1.1.1", "6.6.6.6, 10.9.9.9"}, "6.6.6.6"},
		{"missing header: the proxy itself, not an empty key", lb, nil, lb},
		{"junk only: the proxy", lb, []string{"junk"}, lb},
		{"junk right of the client: the last trusted hop", lb, []string{"6.6.6.6, junk"}, lb},
		{"only trusted hops", lb, []string{"10.7.7.7"}, "10.7.7.7"},
		{"with a port", lb, []string{"6.6.6.6:51234"}, "6.6.6.6"},
		{"IPv4-mapped IPv6", "::ffff:10.0.0.5", []string{"::ffff:6.6.6.6"}, "6.6.6.6"},
		{"IPv6 client counts per /64", "::1", []string{"2001:db8:1:2:aaaa::1"}, "2001:db8:1:2::"},
		{"IPv6 with a port", "::1", []string{"[2001:db8:1:2::9]:443"}, "2001:db8:1:2::"},
		{"IPv6 trusted proxy range", "::1", []string{"2001:db8:5::7, 2001:db8:ffff::1"}, "2001:db8:5::"},
		{"IPv6 peer not trusted", "2001:db8:9::1", []string{"6.6.6.6"}, "2001:db8:9::"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hs [][]byte
			for _, h := range tt.headers {
				hs = append(hs, []byte(h))
			}
			got := clientAddr(netip.MustParseAddr(tt.peer), hs, trusted)
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Fatalf("client %s, want %s", got, want)
			}
		})
	}
}

func TestTrustedProxiesMustParse(t *testing.T) {
	for _, bad := range []string{"junk", "10.0.0.0/33", "1.2.3"} {
		if _, err := parseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted as a trusted proxy", bad)
		}
	}
}

// TestStreamOpeningsAreRateLimitedPerClient: a burst is allowed, then one
// client's openings are paced; another client is unaffected.
func TestStreamOpeningsAreRateLimitedPerClient(t *testing.T) {
	l := newClientLimits(10, 2, 3)
	a, b := netip.MustParseAddr("6.6.6.6"), netip.MustParseAddr("7.7.7.7")
	now := time.Now()
	for i := range 3 {
		if ok, _ := l.allowOpen(a, now); !ok {
			t.Fatalf("opening %d of the burst refused", i)
		}
	}
	ok, wait := l.allowOpen(a, now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth opening at once: allowed %v, wait %s; want refused with a wait up to 500ms", ok, wait)
	}
	if ok, _ := l.allowOpen(b, now); !ok {
		t.Fatal("another client was refused")
	}
	if ok, _ := l.allowOpen(a, now.Add(600*time.Millisecond)); !ok {
		t.Fatal("refused after the pace allowed one more")
	}
}
