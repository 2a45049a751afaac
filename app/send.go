package app

import (
	"context"
	"errors"

	"github.com/oncofed/oncofed/protocol"
)

// query sends q through the network, recording connectivity. It returns an error of code
// EUnavailable when the network cannot be reached, and of code EInvalid, without sending,
// when q is malformed (protocol.ValidateQuery: the checks every node makes before reading
// data, so the analyst learns it here rather than as one refusal per site).
func (s *Service) query(ctx context.Context, q protocol.Query) (*Gathered, error) {
	if q.Version == "" {
		q.Version = protocol.Version
	}
	if err := protocol.ValidateQuery(q); err != nil {
		return nil, Errorf(EInvalid, "the %s query is malformed and was not sent: %s", q.Kind, protocolMessage(err))
	}
	if s.net == nil {
		return nil, Errorf(EUnavailable, "offline: no network is connected")
	}
	return s.reached(ctx)(s.net.Query(ctx, q))
}

// reached returns the function that records what a Network call's outcome says of the
// connection: an error that means the hub cannot be reached marks the service offline (code
// EUnavailable), an answer marks it online.
func (s *Service) reached(ctx context.Context) func(*Gathered, error) (*Gathered, error) {
	return func(g *Gathered, err error) (*Gathered, error) {
		if err != nil {
			if ErrorCode(err) == EUnavailable || ctx.Err() == nil && isUnreachable(err) {
				s.setOffline(true)
				return nil, WrapError(EUnavailable, err, "the network %s cannot be reached", s.network.Name)
			}
			return nil, err
		}
		s.setOffline(false)
		return g, nil
	}
}

// protocolMessage is the message of a *protocol.Error, else the error's text.
func protocolMessage(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// isUnreachable treats an uncoded error from Network.Query as the hub being unreachable: the
// contract says Query fails only when nothing could be sent.
func isUnreachable(err error) bool {
	var e *Error
	return !asError(err, &e)
}
