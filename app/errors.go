package app

import (
	"errors"
	"fmt"
)

// Error codes, after wtf's: every error the core returns carries one, and the UI shows the
// human message of the code (Message) next to the detail.
const (
	EInvalid         = "invalid"           // the request is malformed or names something that does not exist in the catalog
	ENotFound        = "not_found"         // no such result, cohort, network or catalog in the cache
	EUnavailable     = "unavailable"       // the hub or every site is unreachable
	ERefusedByPolicy = "refused_by_policy" // a site's disclosure policy refused the query
	EInternal        = "internal"          // a bug or a damaged cache
	EConflict        = "conflict"          // a name already taken, or a cache written by a newer Oncofed
)

// Error is an error with a code. Message is written for the analyst; Op names where it happened,
// for logs.
type Error struct {
	Code    string
	Message string
	Op      string
	Err     error // the underlying cause, if any
	// Refused lists, when every site refused the query, each site's refusal (with its
	// policy reason): a screen reports them per marker as the sites that sat it out.
	Refused []SiteProblem
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message whose cause is err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any other
// non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the analyst-facing message of err: the Message of its *Error, or the
// generic message of EInternal for an uncoded error (whose detail belongs in a log, not a dialog).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return CodeMessage(EInternal)
}

// CodeMessage returns the human sentence the UI shows as the title of an error with code.
func CodeMessage(code string) string {
	switch code {
	case EInvalid:
		return "The request is not valid."
	case ENotFound:
		return "Not found."
	case EUnavailable:
		return "The network cannot be reached; cached results are still available."
	case ERefusedByPolicy:
		return "A site's privacy policy does not allow this query."
	case EConflict:
		return "This conflicts with something that already exists."
	case EInternal:
		return "Something went wrong inside Oncofed."
	}
	return "Unexpected error."
}

func asError(err error, target **Error) bool { return errors.As(err, target) }
