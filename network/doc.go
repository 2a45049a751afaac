// Package network connects the application and the site nodes through a NATS hub: an
// embedded hub for the demo and tests (StartHub), the node side as a NATS micro service
// (ServeSite), and the analyst's client (Dial), which implements app.Network with a
// concurrent scatter-gather, deadlines, deduplication and reply validation
// (protocol.ValidateReply). FederatedCox runs a Cox fit's Newton–Raphson iterations as
// rounds of scatter-gather. Package network/demo runs a synthetic federation in-process.
//
// # Topology
//
// Sites and analysts connect outbound to the hub; nothing listens at a hospital. Each site
// registers the micro service "oncofed-node" with its site name, studies and protocol version
// in the service metadata, and one endpoint per study and query kind:
//
//	oncofed.v1.<study>.<kind>   count, summary, survival, cox of one study
//	oncofed.v1._catalog         catalog: every site answers
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
// server or cluster. A minimal server configuration:
//
//	port: 4222
//	max_payload: 32MB          # pooled Cox replies carry p×p sums per distinct time
//	tls { cert_file: hub.crt, key_file: hub.key }
//	authorization {
//	  users: [
//	    # a site may only serve: answer queries and announce its service
//	    { nkey: U...SITE, permissions: {
//	        subscribe: ["oncofed.v1.>", "$SRV.>"], publish: ["_INBOX.>", "$SRV.>"] } }
//	    # an analyst may only ask
//	    { nkey: U...ANALYST, permissions: {
//	        publish: ["oncofed.v1.>", "$SRV.>"], subscribe: ["_INBOX.>"] } }
//	  ]
//	}
//
// For a cluster add a cluster block (name, listen, routes) to each server and give the nodes
// and clients every server's URL, comma-separated; NATS routes requests and replies across
// the cluster and clients fail over by themselves. Narrowing "oncofed.v1.>" to
// "oncofed.v1.<study>.>" grants an analyst one study. `oncofed-node hub --config FILE` runs
// the embedded hub from such a file; `oncofed-node serve --hub URL --nkey SEED` and
// `oncofed-cli --hub URL --nkey SEED` connect to it.
package network
