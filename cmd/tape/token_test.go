package main

import (
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
	out := strings.TrimSpace(runOK(t, "token", "--auth-secret-file", file, "--symbols", "AAPL,BTC-*", "--ttl", "1h", "--subject", "desk-7"))
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
