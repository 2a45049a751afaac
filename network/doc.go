// Package network connects the application and the site nodes through a NATS hub: an
// embedded hub for the demo and tests (StartHub), the node side as a NATS micro service
// (ServeSite), and the analyst's client (Dial), which implements app.Network with a
// concurrent scatter-gather, deadlines, deduplication and reply validation
// (protocol.ValidateReply). A Cox fit is not run here: app.Service drives its Newton–Raphson
// iterations as rounds of Client.Query, and a pooled fit's second phase as rounds of
// Client.QueryEach, which sends each site its own query on its own subject
// (docs/cox-protocol.md). Package network/demo runs a synthetic federation in-process.
//
// # Topology
//
// Sites and analysts connect outbound to the hub; nothing listens at a hospital. Each site
// registers the micro service "oncofed-node" with its site name, studies and protocol version
// in the service metadata, and one endpoint per study and query kind:
//
//	oncofed.v1.<study>.<kind>        count, summary, survival, cox of one study
//	oncofed.v1.<study>.cox.<site>    a Cox query addressed to this site alone (phase 2)
//	oncofed.v1._catalog              catalog: every site answers
//
// Every site subscribes in a queue group of its own ("site-<name>"): several processes of
// one site share its load, while every site receives every query. The client discovers the
// sites with $SRV.INFO.oncofed-node (cached for a few seconds), publishes a query once with a
// unique reply inbox, and gathers until every expected site answered or the deadline passed.
// Replies carry the headers Oncofed-Site and Oncofed-Error-Code (and micro's
// Nats-Service-Error-Code on refusals), so a monitor can see refusals without decoding bodies.
//
// # Running on a stock nats-server or a cluster
//
// The embedded hub is an ordinary nats-server; production runs the same topology on a stock
// server or cluster. docs/nats/hub.conf is the reference configuration — TLS, one NKey user
// per site and per analyst, and per-subject permissions: a site subscribes only to its
// studies' query subjects (listed by kind: a "<study>.*" grant would admit "<study>.>", and with
// it the other sites' addressed queries), its own addressed subject, the catalog and
// discovery, and publishes nothing but one answer to
// each request it received (allow_responses); an analyst publishes only queries on the
// studies granted and discovery requests, and receives replies only in an inbox of its own
// (WithInboxPrefix, e.g. "_INBOX_alice"), so no analyst can read another's queries or
// results. TestHubPermissions loads that file into the embedded hub and plays each violation.
// `oncofed-node hub --config FILE` runs the embedded hub from such a file; `oncofed-node serve
// --hub URL --nkey SEED --tls-ca CA` and `oncofed-cli --hub URL --nkey SEED --tls-ca CA
// --inbox _INBOX_alice` connect to it.
//
// For a cluster add a cluster block (name, listen, routes) to each server and give the nodes
// and clients every server's URL, comma-separated; NATS routes requests and replies across
// the cluster and clients fail over by themselves (TestClusterServerKilled).
//
// # Signed queries
//
// Transport permissions say who may reach the hub; the nodes themselves decide whom they
// answer. With WithSigner the client signs every query (protocol.Signer, Ed25519: a fresh
// time and nonce each, so every round of a Cox fit is signed afresh); a node started with an
// analysts list (node.Config.Analysts, oncofed-node serve --analysts) answers only signed
// queries by listed keys, refuses stale, future-dated and replayed ones with code
// unauthenticated, and keys its budget, overlap guard and audit log on the verified name.
package network
