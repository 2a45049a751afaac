package node

import (
	"errors"
	"fmt"

	"github.com/oncofed/oncofed/protocol"
)

// errorf returns a coded error (a *protocol.Error) so that every failure the node reports
// carries one of the protocol's codes.
func errorf(code, format string, args ...any) error {
	return &protocol.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the protocol code of err: the code of a *protocol.Error in its chain,
// otherwise internal.
func ErrorCode(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return protocol.CodeInternal
}

// asProtocolError converts err into the coded error a reply carries. Unexpected errors
// become internal, with their text (the node's own message, never patient data).
func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &protocol.Error{Code: protocol.CodeInternal, Message: err.Error()}
}

// refusef returns a refusal by policy (code refused_by_policy) for one of the protocol's
// reasons, with the limit that was reached, so that clients decide on those and never on the
// message.
func refusef(reason string, limit float64, format string, args ...any) error {
	return &protocol.Error{Code: protocol.CodeRefusedByPolicy, Message: fmt.Sprintf(format, args...), Reason: reason, Limit: limit}
}
