package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile into path, unless the whole run is being profiled
// already (-cpuprofile), and returns the function that stops it.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return func() {}, nil
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// profileSpots are the functions whose cumulative share of the CPU profile says where the
// federated time goes, with what they stand for.
var federatedSpots = []spot{
	{"network.(*SiteService).handle", "node side, all of it (per query: decode, compute, encode, send)"},
	{"node.(*Engine).HandleJSON", "node engine: decode query, compute, audit, encode reply"},
	{"node.(*Engine).cox", "node: Cox risk-set sums at β (statistics)"},
	{"analysis.CoxRiskSetRows", "node: analysis.CoxRiskSetRows (sort + sums)"},
	{"node.(*Engine).survival", "node: survival tables (statistics)"},
	{"node.(*SQLiteStore).Release", "node: release transaction (policy checks, reply hash, audit append, commit)"},
	{"node.(*sqliteReleaseTx).AppendAudit", "node: audit log append (SQLite)"},
	{"network.replyCode", "node transport: re-decoding the reply to find its error code"},
	{"network.decodeReply", "client: decode + validate each reply"},
	{"protocol.ValidateReply", "client: protocol.ValidateReply"},
	{"app.(*Service).Run", "client: app.Service.Run, all of it (KM and Cox: rounds, fit, render, store)"},
	{"app.(*Service).runCox", "client: the Cox rounds and the live fit (scatter-gathers included)"},
	{"app.(*Service).finish", "client: provenance, content hash (KM: render)"},
	{"app.Render", "client: render of the KM from its round (a Cox result's payload is its live fit)"},
	{"app.ContentHash", "client: content hash (SHA-256 of every round's stored bytes)"},
	{"cache.(*DB).SaveResult", "cache: SaveResult (replies as received + SQLite insert + commit)"},
	{"modernc.org/sqlite.(*conn).step", "SQLite statements, cache and nodes' audit (modernc, pure Go)"},
	{"protocol.CoxRows.MarshalText", "Cox risk-set rows to base64 text (the nodes' replies: reply hash and reply sent)"},
	{"encoding/json.appendString", "JSON string escaping (mostly of that base64 text)"},
	{"analysis.PooledCoxContribution", "client: pooled Cox from risk-set rows (statistics; the live fit)"},
	{"analysis.MergeTables", "client: merge survival tables"},
	{"analysis.KaplanMeier", "client: Kaplan–Meier"},
	{"encoding/json.Marshal", "JSON encoding (all)"},
	{"encoding/json.Unmarshal", "JSON decoding (all)"},
	{"runtime.gcBgMarkWorker", "garbage collector (background)"},
	{"nats-server/v2/server.(*client).readLoop", "embedded hub (NATS server) routing"},
}

type spot struct{ fn, what string }

// latencySpots are the parts of a KM scatter-gather over 100 sites.
var latencySpots = []spot{
	{"network.(*SiteService).handle", "100 nodes, all of it (decode, compute, audit, encode, send)"},
	{"node.(*Engine).HandleJSON", "node engines"},
	{"node.(*Engine).survival", "node: survival tables (statistics)"},
	{"node.(*SQLiteStore).Release", "node: release transaction (policy checks, reply hash, audit append, commit)"},
	{"node.(*sqliteReleaseTx).AppendAudit", "node: audit log append (SQLite)"},
	{"node.(*Engine).checkOverlap", "node: overlap guard"},
	{"network.replyCode", "node transport: re-decoding the reply to find its error code"},
	{"network.(*Client).Query", "client: scatter-gather (collect, decode, validate)"},
	{"network.decodeReply", "client: decode + validate each reply"},
	{"protocol.ValidateReply", "client: protocol.ValidateReply"},
	{"fmt.Sprintf", "fmt.Sprintf (all; mostly the validator's per-row paths)"},
	{"main.mergeKM", "client: merge 100 sites' tables, KM, log-rank"},
	{"encoding/json.Marshal", "JSON encoding (all)"},
	{"encoding/json.Unmarshal", "JSON decoding (all)"},
	{"nats-server/v2/server.(*client).readLoop", "embedded hub (NATS server) routing"},
	{"runtime.gcBgMarkWorker", "garbage collector (background)"},
}

// profileSummary lists the cumulative CPU share of profileSpots in the profile at path.
func profileSummary(path string) (string, error) {
	return profileTable(path, federatedSpots, 0)
}

// profileTable lists the cumulative CPU of spots in the profile at path, and per query when
// queries > 0.
func profileTable(path string, spots []spot, queries int) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=100000", exe, path).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	total := ""
	cum := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Duration:") {
			total = strings.TrimSpace(line)
		}
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[4], "%") {
			continue
		}
		name := strings.Join(f[5:], " ")
		// A generic function is listed with its shape, appendString[go.shape.[]uint8].
		if i := strings.Index(name, "[go.shape."); i > 0 {
			name = name[:i]
		}
		for _, s := range spots {
			if strings.HasSuffix(name, s.fn) {
				if _, seen := cum[s.fn]; !seen {
					v := f[3] + " (" + f[4] + ")"
					if d, err := time.ParseDuration(f[3]); err == nil && queries > 0 {
						v += " — " + fmtDur(d/time.Duration(queries)) + " per query"
					}
					cum[s.fn] = v
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CPU profile (%s). Cumulative CPU per part (parts overlap: a row includes the rows it calls):\n\n", total)
	b.WriteString("| Part | Function | CPU (share of samples) |\n|---|---|---|\n")
	for _, s := range spots {
		v, ok := cum[s.fn]
		if !ok {
			v = "< 0.5%"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", s.what, s.fn, v)
	}
	return b.String(), nil
}
