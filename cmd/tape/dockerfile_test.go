package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestDockerfileBuildsASmallStaticNonRootImage parses the Dockerfile with
// BuildKit's own parser (no daemon runs here) and checks the image it
// describes: a build stage, a static binary, a final stage from a
// distroless static base that runs as a numeric non-root user.
func TestDockerfileBuildsASmallStaticNonRootImage(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(stages))
	}
	var build string
	for _, c := range stages[0].Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			build += strings.Join(r.CmdLine, " ") + "\n"
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/tape") {
		t.Errorf("build stage does not build a static tape:\n%s", build)
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") {
		t.Errorf("final stage from %q, want distroless/static", final.BaseName)
	}
	var user string
	var entry []string
	copied := false
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = c.CmdLine
		case *instructions.CopyCommand:
			copied = c.From == stages[0].Name
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (runAsNonRoot cannot verify a name)", user)
	}
	if !slices.Equal(entry, []string{"/tape"}) || !copied {
		t.Errorf("entrypoint %v, binary copied from the build stage %v", entry, copied)
	}
}
