package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Several node processes may serve one site database (replicas in a NATS queue group). The
// tests below fire the differencing attack and the budget's last queries at two of them at
// the same instant: two SQLiteStores on one file in this process (as two processes would
// open it), and a second OS process (this test binary, re-executed as a replica).

// TestMain lets the test binary double as the replica process of
// TestAttackDifferencingRaceProcesses.
func TestMain(m *testing.M) {
	if path := os.Getenv("ONCOFED_NODE_REPLICA"); path != "" {
		os.Exit(replicaLoop(path, os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// The attack's two cohorts in lung.csv: all 90 women (A), and all women aged at most 76,
// which leaves out the one woman aged 77 (A minus one).
func raceQueries(analyst string) (a, minusOne protocol.Query) {
	a = query(protocol.KindCount)
	a.Analyst, a.Cohort = analyst, eq("sex", "female")
	minusOne = query(protocol.KindCount)
	minusOne.Analyst, minusOne.Cohort = analyst, and(eq("sex", "female"), rng("age", nil, fp(76)))
	return a, minusOne
}

// twoReplicas imports lung into one database file and opens two engines on it, each with its
// own SQLiteStore (its own connection), as two node processes would.
func twoReplicas(t *testing.T, pol protocol.Policy, clock *fixedClock) (string, [2]*Engine) {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "lung.db")
	importFile(t, dbPath, lungCSV, lungSpec)
	var engines [2]*Engine
	for i := range engines {
		cfg := Config{InsecureOpen: true, Policy: &pol}
		if clock != nil {
			cfg.Now = clock.now
		}
		e, err := NewEngine(ctx, openStore(t, dbPath), cfg)
		if err != nil {
			t.Fatal(err)
		}
		engines[i] = e
	}
	return dbPath, engines
}

// together runs each function in its own goroutine, all released at once by closing a shared
// channel, and waits for them.
func together(fns ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn()
		}()
	}
	close(start)
	wg.Wait()
}

// verifyAuditAfterRace checks the audit chain as `oncofed-node audit` does (VerifyAudit) and
// that it holds one record per query, released as often as queries were answered.
func verifyAuditAfterRace(t *testing.T, dbPath string, queries, answered int) {
	t.Helper()
	s := openStore(t, dbPath)
	recs, err := VerifyAudit(context.Background(), s)
	if err != nil {
		t.Fatalf("audit chain after the concurrent queries: %v", err)
	}
	released := 0
	for _, r := range recs {
		if r.Outcome == OutcomeReleased {
			released++
		}
	}
	if len(recs) != queries || released != answered {
		t.Fatalf("audit log holds %d records, %d released; want %d queries, %d answered", len(recs), released, queries, answered)
	}
}

// Attack (differencing across replicas, at the same instant): A to one replica and A minus
// one patient to the other, released together, 200 times (a fresh analyst each round, so
// every round starts with an empty guard). Exactly one of each pair may be answered. Before
// Store.Release the check and the record were separate transactions, and both were answered
// in 4 to 91 of the 200 rounds (ten runs on 2 shared, busy cores).
func TestAttackDifferencingRace(t *testing.T) {
	ctx := context.Background()
	dbPath, engines := twoReplicas(t, DefaultPolicy(), nil)
	const rounds = 200
	for round := 0; round < rounds; round++ {
		a, minusOne := raceQueries(fmt.Sprintf("mallory-%d", round))
		qs := [2]protocol.Query{a, minusOne}
		if round%2 == 1 {
			qs[0], qs[1] = qs[1], qs[0] // each replica gets each query half of the time
		}
		var replies [2]protocol.Reply
		together(
			func() { replies[0] = engines[0].Handle(ctx, qs[0]) },
			func() { replies[1] = engines[1].Handle(ctx, qs[1]) },
		)
		answered := 0
		for i, r := range replies {
			switch {
			case r.Error == nil:
				answered++
			case r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "overlap guard"):
				t.Fatalf("round %d: replica %d refused with %v, want the overlap guard", round, i, r.Error)
			}
		}
		if answered != 1 {
			t.Fatalf("round %d: %d of A and A-minus-one answered, want exactly 1", round, answered)
		}
	}
	verifyAuditAfterRace(t, dbPath, 2*rounds, rounds)
}

// Attack (the budget's last queries, at the same instant): 16 identical queries, 8 to each
// replica, released together with a budget of 5, 40 times (a fresh analyst each round):
// exactly 5 are answered each round. Before Store.Release the count and the audit append
// were separate transactions, and 6 were answered in 27 to 37 of the 40 rounds (five runs).
func TestAttackBudgetRace(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 5
	clock := &fixedClock{time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	dbPath, engines := twoReplicas(t, pol, clock)
	const rounds, perReplica = 40, 8
	for round := 0; round < rounds; round++ {
		a, _ := raceQueries(fmt.Sprintf("mallory-%d", round))
		var mu sync.Mutex
		answered := 0
		var fns []func()
		for k := 0; k < 2*perReplica; k++ {
			fns = append(fns, func() {
				r := engines[k%2].Handle(ctx, a)
				if r.Error != nil && (r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "budget")) {
					t.Errorf("round %d: refused with %v, want the budget", round, r.Error)
				}
				mu.Lock()
				defer mu.Unlock()
				if r.Error == nil {
					answered++
				}
			})
		}
		together(fns...)
		if answered != pol.DailyQueryBudget {
			t.Fatalf("round %d: %d of %d concurrent queries answered with a budget of %d", round, answered, 2*perReplica, pol.DailyQueryBudget)
		}
	}
	verifyAuditAfterRace(t, dbPath, rounds*2*perReplica, rounds*pol.DailyQueryBudget)
}

// replicaLoop is the second node process: it serves the database at path and, for each line
// "<analyst> <a|minus-one> <unix nanoseconds>" on in, waits until that instant, answers the
// query and writes "ok" or the error code to out.
func replicaLoop(path string, in io.Reader, out io.Writer) int {
	ctx := context.Background()
	store, err := OpenSQLite(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(out, "ready")
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			fmt.Fprintf(os.Stderr, "bad line %q\n", sc.Text())
			return 1
		}
		at, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		a, minusOne := raceQueries(f[0])
		q := a
		if f[1] == "minus-one" {
			q = minusOne
		}
		time.Sleep(time.Until(time.Unix(0, at)))
		r := e.Handle(ctx, q)
		if r.Error != nil {
			fmt.Fprintln(out, r.Error.Code)
		} else {
			fmt.Fprintln(out, "ok")
		}
	}
	return 0
}

// Attack (differencing across two OS processes): this process and a replica process (the
// test binary re-executed) each answer one of A and A minus one at the same instant, 200
// times with a fresh analyst: exactly one of each pair is answered, and the shared audit
// chain verifies. Before Store.Release both were answered in 11 to 82 of the 200 rounds
// (ten runs).
func TestAttackDifferencingRaceProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a second node process")
	}
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "lung.db")
	importFile(t, dbPath, lungCSV, lungSpec)
	pol := DefaultPolicy()
	e, err := NewEngine(ctx, openStore(t, dbPath), Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "ONCOFED_NODE_REPLICA="+dbPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil || stderr.Len() > 0 {
			t.Errorf("replica process: %v %s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("replica process ended: %s", stderr.String())
		}
		return lines.Text()
	}
	if l := next(); l != "ready" {
		t.Fatalf("replica said %q", l)
	}
	const rounds = 200
	for round := 0; round < rounds; round++ {
		analyst := fmt.Sprintf("mallory-%d", round)
		a, minusOne := raceQueries(analyst)
		mine, theirs := a, "minus-one"
		if round%2 == 1 {
			mine, theirs = minusOne, "a"
		}
		// Both fire at the same instant, a few milliseconds ahead (the line must arrive first).
		at := time.Now().Add(3 * time.Millisecond)
		if _, err := fmt.Fprintf(stdin, "%s %s %d\n", analyst, theirs, at.UnixNano()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(at))
		r := e.Handle(ctx, mine)
		other := next()
		answered := 0
		if r.Error == nil {
			answered++
		} else if r.Error.Code != protocol.CodeRefusedByPolicy {
			t.Fatalf("round %d: this process refused with %v", round, r.Error)
		}
		switch other {
		case "ok":
			answered++
		case protocol.CodeRefusedByPolicy:
		default:
			t.Fatalf("round %d: the replica process answered %q", round, other)
		}
		if answered != 1 {
			t.Fatalf("round %d: %d of A and A-minus-one answered by two processes, want exactly 1", round, answered)
		}
	}
	verifyAuditAfterRace(t, dbPath, 2*rounds, rounds)
}
