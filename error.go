package tape

import (
	"errors"
	"fmt"
)

// Error codes name what was wrong with an input. They appear in DLQ headers,
// metrics labels and HTTP error bodies, so they are stable.
const (
	ECodeJSON    = "bad_json"
	ECodeSymbol  = "bad_symbol"
	ECodePrice   = "bad_price"
	ECodeSize    = "bad_size"
	ECodeTime    = "bad_time"
	ECodeField   = "bad_field"
	ECodeEmpty   = "empty"
	ECodeFormat  = "unknown_format"
	ECodeTooBig  = "too_large"
	ECodeInvalid = "invalid"
)

// Error is a problem with input from outside: a feed message, a request.
// Its Message is safe to show to whoever sent the input.
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "tape: " + e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, ECodeInvalid for
// any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return ECodeInvalid
}

// ErrorMessage returns the user-safe message of err: the *Error's message,
// or a generic one for anything else (whose text may hold internals).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "invalid input"
}

// Error kinds of a node's own state, mapped to HTTP statuses by ui.
var (
	// ErrUnavailable means the node cannot serve yet (it is catching up or
	// draining); the client should retry, perhaps on another node.
	ErrUnavailable = errors.New("tape: not ready")
	// ErrFull means the node is at its stream limit.
	ErrFull = errors.New("tape: node is full")
	// ErrTooMany means a client asked for more than a limit allows.
	ErrTooMany = errors.New("tape: over a limit")
)
