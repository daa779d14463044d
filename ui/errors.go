package ui

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"tape"
)

// errorTable maps the kinds of error a node's state reports to what the
// client sees. Anything else is a 500 whose details go only to the log.
var errorTable = []struct {
	kind       error
	status     int
	code       string
	message    string
	retryAfter int
}{
	{tape.ErrUnavailable, fiber.StatusServiceUnavailable, "unavailable", "this node is not ready; retry, or use another node", 2},
	{tape.ErrFull, fiber.StatusServiceUnavailable, "full", "this node has no room for more streams; retry later", 5},
	{tape.ErrTooMany, fiber.StatusBadRequest, "too_many_symbols", "too many symbols for one stream", 0},
}

// httpError is an error the client may see in full.
type httpError struct {
	Status     int
	Code       string
	Message    string
	Symbols    []string
	RetryAfter int
}

func (e *httpError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *httpError {
	return &httpError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorHandler writes every error as JSON: {"error":{"code","message"}}.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var he *httpError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
	case errors.As(err, &fe):
		he = &httpError{Status: fe.Code, Code: "http_" + strconv.Itoa(fe.Code), Message: fe.Message}
	default:
		s.cfg.Logger.Error("ui: handler error", "path", c.Path(), "err", err)
		he = errorf(fiber.StatusInternalServerError, "internal", "internal error")
	}
	if he.Status >= 500 {
		s.errors5.Add(1)
	} else {
		s.errors4.Add(1)
	}
	if he.RetryAfter > 0 {
		c.Set("Retry-After", strconv.Itoa(he.RetryAfter))
	}
	body := struct {
		Error struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Symbols []string `json:"symbols,omitempty"`
		} `json:"error"`
	}{}
	body.Error.Code, body.Error.Message = he.Code, he.Message
	for _, sym := range he.Symbols {
		if len(sym) > 2*tape.MaxSymbolLen {
			sym = sym[:2*tape.MaxSymbolLen] + "…"
		}
		body.Error.Symbols = append(body.Error.Symbols, sym)
	}
	c.Status(he.Status)
	return c.JSON(body)
}
