package tape

import "embed"

// Feeds holds the recorded sessions shipped in testdata/feeds, so that
// `tape demo` needs no files beside the binary. See testdata/README.md.
//
//go:embed testdata/feeds/session.polygon.jsonl.gz
var Feeds embed.FS
