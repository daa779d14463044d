package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"

	"github.com/gofiber/fiber/v2"
)

// The front end is embedded in the binary: no CDN, no build step.
//
//go:embed static
var staticFS embed.FS

// assetVersion changes whenever an asset does, so pages can let browsers
// cache assets forever.
var assetVersion = func() string {
	h := sha256.New()
	entries, _ := staticFS.ReadDir("static")
	for _, e := range entries {
		b, _ := staticFS.ReadFile("static/" + e.Name())
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// static serves GET /static/{name} from the embedded files.
func (s *Server) static(c *fiber.Ctx) error {
	name := c.Params("name")
	ctype, ok := contentTypes[path.Ext(name)]
	if !ok || path.Base(name) != name {
		return errorf(fiber.StatusNotFound, "not_found", "no such asset")
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		return errorf(fiber.StatusNotFound, "not_found", "no such asset")
	}
	c.Set("Content-Type", ctype)
	c.Set("Cache-Control", "public, max-age=31536000, immutable")
	return c.Send(b)
}
