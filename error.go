// Package mcloud holds the domain: the types every other package shares and
// the few decisions (who may do what, is this approval valid) that must be
// the same everywhere. It imports nothing of ours.
package mcloud

import (
	"errors"
	"fmt"
)

// Error codes. The edge (Slack, the shell) maps a code to what a user sees;
// an error without a code is internal and is shown only as a reference.
const (
	EINVALID      = "invalid"      // the input is wrong; the message says how
	EUNAUTHORIZED = "unauthorized" // the caller may not do this here
	ENOTFOUND     = "not_found"    // the thing named does not exist (or is not visible)
	ECONFLICT     = "conflict"     // the thing is in a state that forbids this
	EINTERNAL     = "internal"     // our fault; details only in the log
)

// Error is an error meant for a user: Message is one sentence they can act on.
type Error struct {
	Code    string
	Message string
	// Usage, when set, is the usage line of the verb the error is about.
	Usage string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns a user-facing error with a code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing sentence of err, or "" when err is
// internal and must not be shown.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}
