package node

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestReleaseStatementsPrepared: the statements a release transaction runs are prepared after
// the first release that met them and reused by the next, with the same answers; a release
// that fails still frees the one connection (no deadlock preparing after it); concurrent
// releases agree.
func TestReleaseStatementsPrepared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	since := time.Now().Add(-time.Hour)
	release := func(fail bool) (int, error) {
		var n int
		err := s.Release(ctx, "alice", func(tx ReleaseTx) error {
			var err error
			if n, err = tx.CountQueries(ctx, since); err != nil {
				return err
			}
			if _, err := tx.AppendAudit(ctx, AuditEntry{Analyst: "alice", At: time.Now(), Study: "lung", Kind: "count", Budgeted: true}); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		})
		return n, err
	}
	prepared := func() int {
		s.stmts.mu.Lock()
		defer s.stmts.mu.Unlock()
		return len(s.stmts.stmts)
	}
	if n, err := release(false); err != nil || n != 0 || prepared() < 3 {
		t.Fatalf("first release: %d queries counted, %v; %d statements prepared after it", n, err, prepared())
	}
	before := prepared()
	if n, err := release(false); err != nil || n != 1 || prepared() != before {
		t.Fatalf("second release (prepared statements): %d queries counted, %v; %d statements prepared, %d before", n, err, prepared(), before)
	}
	// A failed release rolls back its audit record and leaves the connection usable.
	if _, err := release(true); err == nil || err.Error() != "refused" {
		t.Fatalf("failing release: %v", err)
	}
	if n, err := release(false); err != nil || n != 2 {
		t.Fatalf("after the failed release: %d queries counted (want the 2 committed), %v", n, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := release(false); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := release(false); err != nil || n != 11 {
		t.Fatalf("after 8 concurrent releases: %d queries counted, want 11 (%v)", n, err)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("the releases took too long: %v", err)
	}
	// The study list, outside any transaction, is prepared on its first read and stays right
	// after a study is imported.
	n := prepared()
	if studies, err := s.Studies(ctx); err != nil || len(studies) != 0 || prepared() != n+1 {
		t.Fatalf("studies %v, %v; %d statements prepared, %d before", studies, err, prepared(), n)
	}
	if _, err := s.ReplaceStudy(ctx, &StudyData{Name: "lung", DataCut: "2024-01-01", IDs: []string{"a"},
		Endpoints: []EndpointData{{Name: "os", Time: []float64{5}, Event: []bool{true}}}}); err != nil {
		t.Fatal(err)
	}
	if studies, err := s.Studies(ctx); err != nil || len(studies) != 1 || studies[0].Name != "lung" || prepared() != n+1 {
		t.Fatalf("after an import: studies %v, %v", studies, err)
	}
}
