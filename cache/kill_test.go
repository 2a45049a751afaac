package cache

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
)

// TestMain lets the test binary double as the writer process that TestKilledWriter kills.
func TestMain(m *testing.M) {
	if path := os.Getenv("ONCOFED_CACHE_WRITER"); path != "" {
		os.Exit(writerLoop(path))
	}
	os.Exit(m.Run())
}

// writerLoop writes results of 1–8 rounds (named after their round count) and renames and
// re-pins old ones, forever, until it is killed.
func writerLoop(path string) int {
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		rounds := 1 + i%8
		r := testResult(fmt.Sprintf("rounds=%d", rounds), t0.Add(time.Duration(i)*time.Second), rounds)
		if err := db.SaveResult(ctx, r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("saved")
		if i%3 == 0 {
			db.PinResult(ctx, r.ID, true, nil)
		}
		if i%5 == 0 {
			cat := app.MergeCatalogs(t0, nil, nil)
			db.SaveCatalog(ctx, "demo", cat)
		}
	}
}

// TestKilledWriter kills a writing process with SIGKILL 200 times at random moments; the cache
// must then pass PRAGMA integrity_check and every result must be whole: as many stored rounds
// and replies as its name says, and its content hash intact.
func TestKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 200 processes")
	}
	path := filepath.Join(t.TempDir(), "cache.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const kills = 200
	for k := 0; k < kills; k++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "ONCOFED_CACHE_WRITER="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the first committed write (however slow the machine), then kill at a
		// random moment of the following writes; keep draining stdout so the writer never
		// blocks on it.
		saved := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			first := true
			for sc.Scan() {
				if sc.Text() == "saved" && first {
					first = false
					saved <- true
				}
			}
			if first {
				saved <- false
			}
		}()
		if !<-saved {
			cmd.Wait()
			t.Fatalf("kill %d: writer wrote nothing; stderr: %s", k, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond)
		if err := cmd.Process.Signal(os.Kill); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if s := stderr.String(); s != "" {
			t.Fatalf("kill %d: writer failed before it was killed: %s", k, s)
		}
	}
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.MovedAside != "" {
		t.Fatalf("the cache was found corrupt and moved aside to %s", db.MovedAside)
	}
	var check string
	if err := db.r.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	list, err := db.Results(ctx, app.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < kills {
		t.Errorf("only %d results in %d runs, each of which committed at least one", len(list), kills)
	}
	for _, s := range list {
		r, err := db.Result(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := strconv.Atoi(strings.TrimPrefix(r.Name, "rounds="))
		if len(r.Rounds) != want {
			t.Fatalf("result %d has %d of %d rounds", r.ID, len(r.Rounds), want)
		}
		for i, round := range r.Rounds {
			if len(round.Replies) != 2 {
				t.Fatalf("result %d round %d has %d of 2 replies", r.ID, i, len(round.Replies))
			}
		}
		if app.ContentHash(r.Request, r.Rounds) != r.Provenance.ContentHash {
			t.Fatalf("result %d: content hash mismatch", r.ID)
		}
	}
	t.Logf("%d kills, %d whole results", kills, len(list))
}
