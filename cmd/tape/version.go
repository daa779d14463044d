package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// runVersion prints the module version, the commit the binary was built
// from (with "+dirty" when the tree had changes) and the Go version, as
// the build recorded them (debug.ReadBuildInfo).
func runVersion(_ context.Context, args []string, env environ) error {
	fs := flagSet("version", "Print the version of this binary: module version, commit, commit time and Go version.", env)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, versionLine())
	return nil
}

// versionLine is "tape <module version> <commit>[+dirty] <commit time> <go version>";
// fields the build did not record read "unknown".
func versionLine() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "tape unknown (no build information)"
	}
	version, rev, at, dirty := info.Main.Version, "unknown", "unknown", ""
	if version == "" {
		version = "unknown"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	return fmt.Sprintf("tape %s %s%s %s %s", version, rev, dirty, at, info.GoVersion)
}
