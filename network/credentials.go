package network

import (
	"bytes"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// WithCredentialsData authenticates with the contents of a NATS credentials file — a user
// JWT and its NKey seed, as `nsc` writes them — or of an NKey seed file, as the desktop app
// keeps them in the OS keyring rather than in a file. The seed is parsed once here and kept
// only in the returned option's signing callback.
func WithCredentialsData(data string) Option {
	return func(c *config) error {
		o, err := credentialsOption([]byte(data))
		if err != nil {
			return err
		}
		c.natsOpts = append(c.natsOpts, o)
		return nil
	}
}

func credentialsOption(data []byte) (nats.Option, error) {
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return nil, fmt.Errorf("network: credentials: no user NKey seed: %w", err)
	}
	sign := func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) }
	if !bytes.Contains(data, []byte("BEGIN NATS USER JWT")) {
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("network: credentials: %w", err)
		}
		return nats.Nkey(pub, sign), nil
	}
	jwt, err := nkeys.ParseDecoratedJWT(data)
	if err != nil || jwt == "" {
		return nil, fmt.Errorf("network: credentials: no user JWT: %v", err)
	}
	return nats.UserJWT(func() (string, error) { return jwt, nil }, sign), nil
}
