package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"

	"tape/ui"
)

// authFlags are a web node's access-control flags; all empty leaves it open.
type authFlags struct {
	secretFile, jwksURL, issuer, audience string
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.secretFile, "auth-secret-file", "", "require HS256 tokens signed with the secret in this file (32 bytes or more) on pages, streams and the API")
	fs.StringVar(&a.jwksURL, "auth-jwks-url", "", "require RS256 tokens signed by a key of this JWK Set URL on pages, streams and the API")
	fs.StringVar(&a.issuer, "auth-issuer", "", "with --auth-*: the iss claim tokens must carry")
	fs.StringVar(&a.audience, "auth-audience", "", "with --auth-*: the aud claim tokens must carry")
}

// build returns the Auth the flags describe, or nil when access is open.
func (a *authFlags) build(ctx context.Context) (*ui.Auth, error) {
	if a.secretFile == "" && a.jwksURL == "" {
		if a.issuer != "" || a.audience != "" {
			return nil, fmt.Errorf("--auth-issuer and --auth-audience need --auth-secret-file or --auth-jwks-url")
		}
		return nil, nil
	}
	cfg := ui.AuthConfig{JWKSURL: a.jwksURL, Issuer: a.issuer, Audience: a.audience}
	if a.secretFile != "" {
		b, err := os.ReadFile(a.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--auth-secret-file: %w", err)
		}
		cfg.HS256Secret = bytes.TrimSpace(b)
	}
	auth, err := ui.NewAuth(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--auth-*: %w", err)
	}
	return auth, nil
}
