package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tape"
)

// runToken prints an HS256 token for web nodes started with
// --auth-secret-file: the symbols claim lists what its holder may see.
func runToken(_ context.Context, args []string, env environ) error {
	fs := flagSet("token", "Print a signed HS256 token (JWT) for web nodes run with --auth-secret-file. Its symbols claim lists symbols, prefixes ending in * or * for all.", env)
	secretFile := fs.String("auth-secret-file", "", "the file holding the web nodes' HS256 secret")
	grant := fs.String("grant", "*", "what the holder may see, comma-separated: symbols (AAPL), prefixes ending in * (BTC-*), or * for all")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid")
	subject := fs.String("subject", "", "the sub claim (who holds it)")
	issuer := fs.String("auth-issuer", "", "the iss claim")
	audience := fs.String("auth-audience", "", "the aud claim")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	if *secretFile == "" {
		return errors.New("token: --auth-secret-file is required")
	}
	if *ttl <= 0 {
		return fmt.Errorf("token: --ttl is %s, want more than 0", *ttl)
	}
	secret, err := os.ReadFile(*secretFile)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) < 32 {
		return fmt.Errorf("token: the secret has %d bytes, want at least 32", len(secret))
	}
	patterns := splitList(*grant)
	if len(patterns) == 0 {
		return errors.New("token: --grant is empty, want symbols, prefixes ending in * or *")
	}
	for i, p := range patterns {
		if p == "*" {
			continue
		}
		// A symbol, or the start of symbols, written as web nodes see
		// symbols (aapl is AAPL).
		sym, err := tape.ParseSymbolString(strings.TrimSuffix(p, "*"))
		if err != nil {
			return fmt.Errorf("token: --grant %q: want a symbol, a prefix ending in *, or *", p)
		}
		patterns[i] = string(sym) + p[len(strings.TrimSuffix(p, "*")):]
	}
	now := time.Now()
	claims := jwt.MapClaims{"symbols": patterns, "iat": now.Unix(), "exp": now.Add(*ttl).Unix()}
	for k, v := range map[string]string{"sub": *subject, "iss": *issuer, "aud": *audience} {
		if v != "" {
			claims[k] = v
		}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(env.stdout, strings.TrimSpace(s))
	return nil
}
