package ui_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tape/ui"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func hsToken(t *testing.T, symbols []string, exp time.Duration) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "trader", "symbols": symbols, "exp": time.Now().Add(exp).Unix(),
	}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func getWith(t *testing.T, url, token string) (*http.Response, apiError) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e apiError
	if res.StatusCode >= 400 {
		json.NewDecoder(res.Body).Decode(&e)
	}
	return res, e
}

// TestTokensLimitWhatAHolderSees covers HS256 tokens: none, bad, expired,
// entitled and not, over the stream, the API and the pages.
func TestTokensLimitWhatAHolderSees(t *testing.T) {
	auth, err := ui.NewAuth(context.Background(), ui.AuthConfig{HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, ui.Config{Auth: auth}, newFake())
	aapl := hsToken(t, []string{"AAPL"}, time.Hour)
	all := hsToken(t, []string{"*"}, time.Hour)
	prefix := hsToken(t, []string{"MS*"}, time.Hour)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"symbols": []string{"*"}, "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString([]byte("another secret of thirty-two bytes!"))
	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
		denied            []string
	}{
		{"no token", "/api/quotes?symbols=AAPL", "", 401, "unauthorized", nil},
		{"forged", "/api/quotes?symbols=AAPL", forged, 401, "invalid_token", nil},
		{"expired", "/api/quotes?symbols=AAPL", hsToken(t, []string{"*"}, -time.Hour), 401, "invalid_token", nil},
		{"entitled", "/api/quotes?symbols=AAPL", aapl, 200, "", nil},
		{"stream asks for more", "/events?symbols=AAPL,MSFT,IBM", aapl, 403, "forbidden_symbols", []string{"MSFT", "IBM"}},
		{"prefix", "/api/quotes?symbols=MSFT", prefix, 200, "", nil},
		{"prefix does not cover", "/api/quotes?symbols=AAPL", prefix, 403, "forbidden_symbols", []string{"AAPL"}},
		{"listing needs *", "/api/quotes", aapl, 403, "forbidden_symbols", nil},
		{"listing with *", "/api/quotes", all, 200, "", nil},
		{"symbol page", "/s/MSFT", aapl, 403, "forbidden_symbols", []string{"MSFT"}},
		{"symbol page entitled", "/s/AAPL", aapl, 200, "", nil},
		{"bars of another symbol", "/api/bars?symbol=MSFT&width=1m", aapl, 403, "forbidden_symbols", []string{"MSFT"}},
		{"trades of another symbol", "/api/trades?symbol=MSFT", aapl, 403, "forbidden_symbols", []string{"MSFT"}},
		{"movers need *", "/api/movers", aapl, 403, "forbidden_symbols", nil},
		{"movers page needs *", "/movers", aapl, 403, "forbidden_symbols", nil},
		{"symbol search needs *", "/api/symbols?prefix=A", aapl, 403, "forbidden_symbols", nil},
		{"cluster needs a token", "/api/cluster", "", 401, "unauthorized", nil},
		{"the add form asks too", "/?symbols=AAPL&add=MSFT", aapl, 403, "forbidden_symbols", []string{"MSFT"}},
		{"health needs none", "/healthz", "", 200, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, e := getWith(t, base+tc.path, tc.token)
			if res.StatusCode != tc.status || e.Error.Code != tc.code || len(e.Error.Symbols) != len(tc.denied) {
				t.Fatalf("%s: %d %+v, want %d %s %v", tc.path, res.StatusCode, e.Error, tc.status, tc.code, tc.denied)
			}
			for i := range tc.denied {
				if e.Error.Symbols[i] != tc.denied[i] {
					t.Fatalf("denied %v, want %v", e.Error.Symbols, tc.denied)
				}
			}
			if tc.status == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if res.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
		})
	}
	// The watchlist without a list shows only the token's symbols: every
	// known one for *, AAPL alone for AAPL.
	for _, tc := range []struct {
		token      string
		want, hide []string
	}{{all, []string{"AAPL", "MSFT"}, nil}, {aapl, []string{"AAPL"}, []string{"MSFT"}}} {
		res, err := http.DefaultClient.Do(func() *http.Request {
			req, _ := http.NewRequest("GET", base+"/", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			return req
		}())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, sym := range tc.want {
			if !strings.Contains(string(body), `data-symbol="`+sym+`"`) {
				t.Errorf("%d: the watchlist lacks %s", res.StatusCode, sym)
			}
		}
		for _, sym := range tc.hide {
			if strings.Contains(string(body), `data-symbol="`+sym+`"`) {
				t.Errorf("the watchlist shows %s to a token without it", sym)
			}
		}
	}
	// EventSource cannot set headers: the token may come as access_token.
	res, _ := getWith(t, base+"/api/quotes?symbols=AAPL&access_token="+aapl, "")
	if res.StatusCode != 200 {
		t.Errorf("access_token parameter: %d", res.StatusCode)
	}
}

// TestRS256TokensFromAJWKS verifies RS256 tokens with keys served as a
// JWK Set, and refuses a token signed by another key.
func TestRS256TokensFromAJWKS(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	defer jwks.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	auth, err := ui.NewAuth(ctx, ui.AuthConfig{JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, ui.Config{Auth: auth}, newFake())
	sign := func(k *rsa.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"symbols": []string{"AAPL"}, "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if res, e := getWith(t, base+"/api/quotes?symbols=AAPL", sign(key)); res.StatusCode != 200 {
		t.Errorf("RS256 token from the JWKS key: %d %+v", res.StatusCode, e)
	}
	if res, _ := getWith(t, base+"/api/quotes?symbols=AAPL", sign(other)); res.StatusCode != 401 {
		t.Errorf("RS256 token from another key: %d, want 401", res.StatusCode)
	}
	// An HS256 token is refused by an RS256 verifier (no algorithm confusion).
	if res, _ := getWith(t, base+"/api/quotes?symbols=AAPL", hsToken(t, []string{"*"}, time.Hour)); res.StatusCode != 401 {
		t.Errorf("HS256 token to an RS256 verifier: %d, want 401", res.StatusCode)
	}
}

func TestAuthConfigIsChecked(t *testing.T) {
	for name, cfg := range map[string]ui.AuthConfig{
		"short secret": {HS256Secret: []byte("short")},
		"both":         {HS256Secret: testSecret, JWKSURL: "http://127.0.0.1:1/jwks"},
		"neither":      {},
	} {
		if _, err := ui.NewAuth(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
