package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"tape"
)

// Auth checks signed tokens (JWT, RFC 7519) on the dashboard, the stream
// and the API. A token's "symbols" claim lists what its holder may see:
// symbols ("AAPL"), prefixes ending in "*" ("BTC-*"), or "*" for all.
// Tokens come in an Authorization: Bearer header, a tape_token cookie
// (pages), or an access_token query parameter (EventSource cannot set
// headers). A nil *Auth lets everyone see everything. Safe for
// concurrent use.
type Auth struct {
	keyfunc  jwt.Keyfunc
	methods  []string
	issuer   string
	audience string
}

// AuthConfig configures an Auth: exactly one of HS256Secret and JWKSURL.
type AuthConfig struct {
	// HS256Secret verifies tokens signed with HMAC-SHA256 (at least 32
	// bytes, RFC 7518 section 3.2).
	HS256Secret []byte
	// JWKSURL verifies RS256 tokens with the keys the URL serves (a JWK
	// Set, RFC 7517), refreshed in the background and on an unknown kid.
	JWKSURL string
	// Issuer and Audience, if set, must match the iss and aud claims.
	Issuer, Audience string
}

// ErrAuthConfig reports an AuthConfig that cannot work.
var ErrAuthConfig = errors.New("ui: auth")

// NewAuth returns an Auth for cfg; with a JWKS URL it fetches the keys
// once first (failing if they cannot be read) and refreshes them until
// ctx ends.
func NewAuth(ctx context.Context, cfg AuthConfig) (*Auth, error) {
	a := &Auth{issuer: cfg.Issuer, audience: cfg.Audience}
	switch {
	case len(cfg.HS256Secret) > 0 && cfg.JWKSURL != "":
		return nil, fmt.Errorf("%w: give an HS256 secret or a JWKS URL, not both", ErrAuthConfig)
	case len(cfg.HS256Secret) > 0:
		if len(cfg.HS256Secret) < 32 {
			return nil, fmt.Errorf("%w: the HS256 secret has %d bytes, want at least 32", ErrAuthConfig, len(cfg.HS256Secret))
		}
		secret := cfg.HS256Secret
		a.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		a.methods = []string{jwt.SigningMethodHS256.Alg()}
	case cfg.JWKSURL != "":
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("%w: JWKS %s: %v", ErrAuthConfig, cfg.JWKSURL, err)
		}
		a.keyfunc = kf.Keyfunc
		a.methods = []string{jwt.SigningMethodRS256.Alg()}
	default:
		return nil, fmt.Errorf("%w: no HS256 secret and no JWKS URL", ErrAuthConfig)
	}
	return a, nil
}

// claims are the claims tape reads.
type claims struct {
	Symbols []string `json:"symbols"`
	jwt.RegisteredClaims
}

// entitlement is what one token allows.
type entitlement []string

// entitlementKey holds a request's entitlement in its locals, once
// authorize has checked its token.
const entitlementKey = "tape.entitlement"

// entitled filters syms to those the request's token allows (all of them
// when access control is off).
func entitled(c *fiber.Ctx, syms []tape.Symbol) []tape.Symbol {
	ent, ok := c.Locals(entitlementKey).(entitlement)
	if !ok {
		return syms
	}
	out := make([]tape.Symbol, 0, len(syms))
	for _, s := range syms {
		if ent.allows(s) {
			out = append(out, s)
		}
	}
	return out
}

// allows reports whether sym matches a pattern.
func (e entitlement) allows(sym tape.Symbol) bool {
	for _, p := range e {
		if p == "*" || p == string(sym) || strings.HasSuffix(p, "*") && strings.HasPrefix(string(sym), p[:len(p)-1]) {
			return true
		}
	}
	return false
}

// check verifies a token and returns its entitlement.
func (a *Auth) check(token string) (entitlement, error) {
	opts := []jwt.ParserOption{jwt.WithValidMethods(a.methods), jwt.WithExpirationRequired(), jwt.WithLeeway(30 * time.Second)}
	if a.issuer != "" {
		opts = append(opts, jwt.WithIssuer(a.issuer))
	}
	if a.audience != "" {
		opts = append(opts, jwt.WithAudience(a.audience))
	}
	var c claims
	if _, err := jwt.ParseWithClaims(token, &c, a.keyfunc, opts...); err != nil {
		return nil, err
	}
	return entitlement(c.Symbols), nil
}

// tokenOf finds the request's token.
func tokenOf(c *fiber.Ctx) string {
	if h := c.Get(fiber.HeaderAuthorization); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if t := c.Cookies("tape_token"); t != "" {
		return t
	}
	return c.Query("access_token")
}

// authorize answers 401 without a valid token, and 403 naming the
// symbols a request asks for (?symbols= or the symbol page's) that the
// token does not list. Bad symbols are left for the handler's 400.
func (s *Server) authorize(c *fiber.Ctx) error {
	if s.cfg.Auth == nil {
		return c.Next()
	}
	token := tokenOf(c)
	if token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="tape"`)
		return errorf(fiber.StatusUnauthorized, "unauthorized", "a token is required (Authorization: Bearer, the tape_token cookie, or access_token)")
	}
	ent, err := s.cfg.Auth.check(token)
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="tape", error="invalid_token"`)
		s.cfg.Logger.Debug("ui: token refused", "err", err)
		return errorf(fiber.StatusUnauthorized, "invalid_token", "the token is not valid: %s", tokenProblem(err))
	}
	// The dashboard without a list shows only what the token allows.
	c.Locals(entitlementKey, ent)
	var asked []string
	if add := c.Query("add"); add != "" { // the watchlist's add form
		asked = append(asked, add)
	}
	switch p := c.Path(); {
	case c.Query("symbols") != "":
		asked = append(asked, strings.Split(c.Query("symbols"), ",")...)
	case c.Query("symbol") != "": // /api/bars, /api/trades
		asked = append(asked, c.Query("symbol"))
	case strings.HasPrefix(p, "/s/"):
		asked = append(asked, c.Params("+"))
	case (p == "/api/quotes" || p == "/movers" || p == "/api/movers" || p == "/api/symbols") && !ent.allows("*"):
		// Listings and movers show any symbol.
		return errorf(fiber.StatusForbidden, "forbidden_symbols", "listing every symbol needs the * entitlement; ask for the symbols by name")
	}
	var denied []string
	for _, a := range asked {
		sym, err := tape.ParseSymbolString(strings.TrimSpace(a))
		if err == nil && !ent.allows(sym) {
			denied = append(denied, string(sym))
		}
	}
	if len(denied) > 0 {
		e := errorf(fiber.StatusForbidden, "forbidden_symbols", "the token does not entitle its holder to these symbols")
		e.Symbols = denied
		return e
	}
	return c.Next()
}

// tokenProblem says in a few words why a token was refused, without
// echoing it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature or unknown key"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim (exp) is missing"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong issuer or audience"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "refused"
}
