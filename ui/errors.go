package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

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
	he := s.asHTTPError(c.Path(), err)
	if he.RetryAfter > 0 {
		c.Set("Retry-After", strconv.Itoa(he.RetryAfter))
	}
	c.Status(he.Status)
	c.Set("Content-Type", "application/json")
	return c.Send(errorBody(he))
}

// asHTTPError turns any handler error into what the client may see, and
// counts it; details of unexpected errors go only to the log.
func (s *Server) asHTTPError(path string, err error) *httpError {
	var he *httpError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
	case errors.As(err, &fe):
		// Fiber's and fasthttp's messages may quote the request or their
		// internals: the client gets the status's own words.
		he = &httpError{Status: fe.Code, Code: "http_" + strconv.Itoa(fe.Code), Message: utils.StatusMessage(fe.Code)}
	default:
		s.cfg.Logger.Error("ui: handler error", "path", path, "err", err)
		he = errorf(fiber.StatusInternalServerError, "internal", "internal error")
	}
	s.countRejected(he)
	return he
}

// errorBody is the JSON body of an error response.
func errorBody(he *httpError) []byte {
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
	b, _ := json.Marshal(body)
	return b
}

// writeRawError answers on a taken-over connection, which no longer has
// Fiber's response, and closes it: for a stream that could not start
// after its request was accepted (its client reached a limit, the node
// filled up in between).
func (s *Server) writeRawError(conn net.Conn, err error) {
	he := s.asHTTPError("/events", err)
	body := errorBody(he)
	b := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n",
		he.Status, utils.StatusMessage(he.Status), len(body))
	if he.RetryAfter > 0 {
		b = fmt.Appendf(b, "Retry-After: %d\r\n", he.RetryAfter)
	}
	if s.cfg.NodeID != "" {
		b = fmt.Appendf(b, "X-Tape-Node: %s\r\n", s.cfg.NodeID)
	}
	b = append(append(b, "\r\n"...), body...)
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	conn.Write(b)
	conn.Close()
}
