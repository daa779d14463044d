package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// runProbe checks an HTTP endpoint for container health checks (the
// image has no shell or curl): it succeeds iff the URL answers 200.
func runProbe(ctx context.Context, args []string, env environ) error {
	fs := flagSet("probe", "GET a URL (a node's /readyz, say) and succeed only on 200: a health check for images without curl.", env)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		if err := parse(fs, args, env); err != nil {
			return err
		}
		return fmt.Errorf("probe: give a URL, e.g. tape probe http://127.0.0.1:8080/readyz")
	}
	url := args[0]
	if err := parse(fs, args[1:], env); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("probe: %s answered %s", url, res.Status)
	}
	return nil
}
