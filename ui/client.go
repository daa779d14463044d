package ui

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// Per-client limits are keyed on the client's address, found as a load
// balancer's X-Forwarded-For says, never on raw header text.

// trustedProxies is the set of load balancer addresses whose
// X-Forwarded-For names the client.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads addresses ("10.0.0.5", "::1") and CIDRs
// ("10.0.0.0/8").
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t trustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address a request's per-client limits count
// against. Only when the peer is a trusted proxy is X-Forwarded-For read:
// all its headers, as one comma-separated list of hops, from the right;
// the right-most address that is not itself a trusted proxy is the
// client. An entry that is not an address ends the walk (what lies left
// of it was written by the client), and then, as when the header is
// missing, the last trusted hop seen is the client: never an empty key
// that every client would share. IPv6 clients count per /64, the block a
// single host is usually given.
func clientAddr(peer netip.Addr, forwarded [][]byte, trusted trustedProxies) netip.Addr {
	peer = peer.Unmap()
	client := peer
	if trusted.contains(peer) {
	walk:
		for i := len(forwarded) - 1; i >= 0; i-- {
			hops := strings.Split(string(forwarded[i]), ",")
			for j := len(hops) - 1; j >= 0; j-- {
				a, ok := parseHop(hops[j])
				if !ok {
					break walk
				}
				client = a
				if !trusted.contains(a) {
					break walk
				}
			}
		}
	}
	if client.Is6() {
		p, _ := client.Prefix(64)
		return p.Addr()
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("1.2.3.4:5678", "[2001:db8::1]:443") as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// requestClient returns the client address of the request in c.
func (s *Server) requestClient(c *fiber.Ctx) netip.Addr {
	var peer netip.Addr
	if ta, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(ta.IP)
	}
	var fwd [][]byte
	if s.trusted != nil {
		fwd = c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	}
	return clientAddr(peer, fwd, s.trusted)
}

// clientLimits counts each client's open streams and rate-limits how often
// it opens them (a reconnect loop, a flood from one address).
type clientLimits struct {
	maxOpen int
	every   rate.Limit
	burst   int

	mu     sync.Mutex // guards the maps
	open   map[netip.Addr]int
	opens  map[netip.Addr]*rate.Limiter
	lastGC time.Time
}

func newClientLimits(maxOpen int, perSecond float64, burst int) *clientLimits {
	return &clientLimits{maxOpen: maxOpen, every: rate.Limit(perSecond), burst: burst,
		open: map[netip.Addr]int{}, opens: map[netip.Addr]*rate.Limiter{}, lastGC: time.Now()}
}

// full reports whether a has as many streams open as allowed.
func (l *clientLimits) full(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[a] >= l.maxOpen
}

// allowOpen takes one stream opening from a's budget; false when spent,
// with how long until the next is allowed.
func (l *clientLimits) allowOpen(a netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute {
		// A limiter back at full burst holds nothing worth keeping.
		for k, lim := range l.opens {
			if l.open[k] == 0 && lim.TokensAt(now) >= float64(l.burst) {
				delete(l.opens, k)
			}
		}
		l.lastGC = now
	}
	lim := l.opens[a]
	if lim == nil {
		lim = rate.NewLimiter(l.every, l.burst)
		l.opens[a] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// acquire counts a stream of a; false when a is at its limit.
func (l *clientLimits) acquire(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] >= l.maxOpen {
		return false
	}
	l.open[a]++
	return true
}

// release uncounts a stream of a.
func (l *clientLimits) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a]--; l.open[a] <= 0 {
		delete(l.open, a)
	}
}

// streamsOf returns how many streams a has open.
func (l *clientLimits) streamsOf(a netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[a]
}
