//go:build tools

// This file pins the project's dependencies in go.mod while the packages that use them are
// being written; `go mod tidy` keeps modules imported under any build tag. Delete it once
// every import below is used by real code.
package main

import (
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/micro"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/gonum/stat/distuv"
	_ "gonum.org/v1/plot"
	_ "modernc.org/sqlite"
)
