package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestTokenCommandSignsWhatWebNodesVerify checks the documented token
// command: an HS256 token with the symbols claim, valid for --ttl.
func TestTokenCommandSignsWhatWebNodesVerify(t *testing.T) {
	secret := "a secret of at least thirty-two bytes"
	file := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(file, []byte(secret+"\n"), 0o600)
	out := strings.TrimSpace(runOK(t, "token", "--auth-secret-file", file, "--grant", "AAPL,BTC-*", "--ttl", "1h", "--subject", "desk-7"))
	var c struct {
		Symbols []string `json:"symbols"`
		jwt.RegisteredClaims
	}
	if _, err := jwt.ParseWithClaims(out, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()); err != nil {
		t.Fatalf("token %q: %v", out, err)
	}
	if !slices.Equal(c.Symbols, []string{"AAPL", "BTC-*"}) || c.Subject != "desk-7" {
		t.Fatalf("claims %+v", c)
	}
}

// TestTokenRefusesGrantsNoNodeMatches: a grant that no symbol could match
// (markup, empty) is refused instead of signed; lower case is written as
// nodes see symbols.
func TestTokenRefusesGrantsNoNodeMatches(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(strings.Repeat("s", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, grant := range []string{"<script>", ",", "AAPL,b c*"} {
		var out, errOut strings.Builder
		err := runEnv(context.Background(), []string{"token", "--auth-secret-file", file, "--grant", grant},
			environ{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
		if err == nil || out.Len() > 0 {
			t.Errorf("--grant %q: signed %q, want an error", grant, out.String())
		}
	}
	out := strings.TrimSpace(runOK(t, "token", "--auth-secret-file", file, "--grant", "aapl,btc-*"))
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(out, &claims); err != nil {
		t.Fatal(err)
	}
	if got := claims["symbols"]; !slices.Equal(toStrings(got), []string{"AAPL", "BTC-*"}) {
		t.Errorf("symbols claim %v, want [AAPL BTC-*]", got)
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
