package network

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// HubOptions configures an embedded hub.
type HubOptions struct {
	// Listen is the client address, host:port. Empty means 127.0.0.1 on a random free port;
	// port 0 also picks a random free port.
	Listen string
	// ConfigFile is an optional NATS server configuration file (TLS, accounts, users,
	// clustering). Listen, when set, overrides the file's host and port.
	ConfigFile string
	// Log makes the server log to standard error (off by default: tests and the desktop app
	// embed it quietly).
	Log bool
}

// DefaultMaxPayload is the largest message an embedded hub accepts unless its configuration
// file says otherwise. A stock nats-server needs `max_payload: 32MB` for the same headroom.
const DefaultMaxPayload = 32 << 20

// Hub is an embedded NATS server. It is the same server a production deployment runs as a
// stock nats-server or cluster; embedding it serves the demo network, tests and small
// deployments with no separate process. JetStream is off: the federation needs only
// request–reply.
type Hub struct {
	srv *server.Server
	url string
}

// StartHub starts an embedded hub and waits until it accepts connections.
func StartHub(opts HubOptions) (*Hub, error) {
	var so *server.Options
	if opts.ConfigFile != "" {
		var err error
		so, err = server.ProcessConfigFile(opts.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("network: hub config %s: %w", opts.ConfigFile, err)
		}
	} else {
		so = &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT}
	}
	if opts.Listen != "" {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("network: hub listen address %q: %w", opts.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("network: hub listen address %q: bad port", opts.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		if host == "" {
			host = "127.0.0.1"
		}
		so.Host, so.Port = host, p
	}
	if so.MaxPayload == 0 {
		// Pooled Cox replies carry p×p sums per distinct time: far beyond NATS's 1 MB default
		// for a large site with many covariates.
		so.MaxPayload = DefaultMaxPayload
	}
	so.JetStream = false
	so.NoSigs = true // the embedding program owns signal handling
	so.NoLog = !opts.Log
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("network: hub: %w", err)
	}
	if opts.Log {
		srv.ConfigureLogger()
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("network: hub on %s:%d did not become ready", so.Host, so.Port)
	}
	h := &Hub{srv: srv}
	scheme := "nats"
	if so.TLSConfig != nil {
		scheme = "tls"
	}
	host := so.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if addr, ok := srv.Addr().(*net.TCPAddr); ok {
		h.url = scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	} else {
		h.url = srv.ClientURL()
	}
	return h, nil
}

// URL is the address clients and nodes dial, e.g. nats://127.0.0.1:4222.
func (h *Hub) URL() string { return h.url }

// Shutdown stops the hub and waits until it has stopped; connected clients see a
// disconnect and, with the default options, keep trying to reconnect.
func (h *Hub) Shutdown() {
	h.srv.Shutdown()
	h.srv.WaitForShutdown()
}

// NumClients is the number of connections the hub currently serves.
func (h *Hub) NumClients() int { return h.srv.NumClients() }
