// Package network connects the application and the site nodes through a NATS hub: an
// embedded hub for the demo and tests, the node side as a NATS micro service, and the client's
// concurrent scatter-gather with deadlines and reply validation.
package network
