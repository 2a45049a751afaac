package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Guard state across re-imports. The overlap guard (released_sets) and the sticky feasibility
// answers (feasibility_sets) remember patient sets as bitsets over the rows of one load of a
// study. A re-import — a site's routine new data cut — makes a new load with a new version, so
// before this a re-import started both afresh: an analyst who had Σ over all patients got Σ
// over all but one after the re-import, and a feasibility set one patient from a remembered
// one got a fresh draw (TestAttackReimportResetsGuard, TestFeasibilityStickyAcrossReimport).
// ReplaceStudy now carries every set of the previous load onto the new one by patient id, in
// its own transaction: a patient of the old set is in the carried set when the new load still
// holds them. A re-run of a definition over the same patients is then a re-run; over patients
// added or removed by the new cut it is a set that many patients from the remembered one, and
// the guard's rules apply to it as to any (the difference of the two releases is those
// patients). DeleteStudy keeps the deleted load's patient ids (retired_loads), so that a study
// deleted and imported again does not escape either. What a re-import does not change is not
// guarded: the same patients' values updated by the new cut (a death recorded) show in a
// re-run's difference, as in any release over time. The carry-over relies on patient ids that
// stay the same across a site's data cuts (the id column is the patient's, not a row number of
// the extract); ids that are renumbered per extract carry the sets onto the wrong patients.

// previousLoad is the last load of a study: its version and the patient id of each row.
type previousLoad struct {
	version int64
	ids     []string
}

// loadIDs reads the patient ids of the stored study row id (n patients).
func loadIDs(ctx context.Context, tx *sql.Tx, studyID int64, n int) ([]string, error) {
	var data []byte
	err := tx.QueryRowContext(ctx, "SELECT data FROM study_columns WHERE study_id = ? AND role = ?", studyID, roleID).Scan(&data)
	if err != nil {
		return nil, err
	}
	return decodeStrings(data, n)
}

// findPreviousLoad returns the load of study name that a new import replaces: the stored
// study, else the one deleted last (retired_loads); nil when there is none.
func findPreviousLoad(ctx context.Context, tx *sql.Tx, name string) (*previousLoad, error) {
	var id, version int64
	var n int
	err := tx.QueryRowContext(ctx, "SELECT id, version, patients FROM studies WHERE name = ?", name).Scan(&id, &version, &n)
	if err == nil {
		ids, err := loadIDs(ctx, tx, id, n)
		if err != nil {
			return nil, fmt.Errorf("node: patient ids of study %q: %w", name, err)
		}
		return &previousLoad{version, ids}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var data []byte
	err = tx.QueryRowContext(ctx, "SELECT version, patients, ids FROM retired_loads WHERE study = ?", name).Scan(&version, &n, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids, err := decodeStrings(data, n)
	if err != nil {
		return nil, fmt.Errorf("node: retired patient ids of study %q: %w", name, err)
	}
	return &previousLoad{version, ids}, nil
}

// retireLoad keeps, within tx, the patient ids of the stored study row id (its version and
// size given) for the next import of name.
func retireLoad(ctx context.Context, tx *sql.Tx, name string, studyID, version int64, n int) error {
	var data []byte
	err := tx.QueryRowContext(ctx, "SELECT data FROM study_columns WHERE study_id = ? AND role = ?", studyID, roleID).Scan(&data)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO retired_loads (study, version, patients, ids) VALUES (?, ?, ?, ?) ON CONFLICT (study) DO UPDATE SET version = excluded.version, patients = excluded.patients, ids = excluded.ids",
		name, version, n, data)
	return err
}

// carriedSet is one remembered set of the previous load, read before it is rewritten.
type carriedSet struct {
	analyst, def string // released_sets only
	region       string // both: the region released through, or that created a feasibility answer
	answer       int    // feasibility_sets only
	bits         bitset
}

// carryGuardState rewrites, within tx, the released and feasibility sets of study name from
// the previous load prev onto the new load (version, ids), in their order, and drops the sets
// of every older load (unreachable: versions are never reused). Sets that become empty are
// dropped; two feasibility sets that become one keep the earlier's answer (the first answer
// stays the answer).
func carryGuardState(ctx context.Context, tx *sql.Tx, name string, prev *previousLoad, version int64, ids []string) error {
	row := make(map[string]int, len(ids))
	for i, id := range ids {
		row[id] = i
	}
	remap := func(data []byte) (bitset, error) {
		if len(data)%8 != 0 {
			return nil, fmt.Errorf("node: a remembered set of study %q is corrupt", name)
		}
		old := bitset(decodeWords(data))
		b := newBitset(len(ids))
		var bad bool
		old.forEach(func(i int) {
			if i >= len(prev.ids) {
				bad = true
				return
			}
			if j, ok := row[prev.ids[i]]; ok {
				b.set(j)
			}
		})
		if bad {
			return nil, fmt.Errorf("node: a remembered set of study %q has rows its load does not", name)
		}
		return b, nil
	}
	var released, feasible []carriedSet
	rows, err := tx.QueryContext(ctx, "SELECT analyst, region, definition, bits FROM released_sets WHERE study = ? AND version = ? ORDER BY id", name, prev.version)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c carriedSet
		var data []byte
		if err := rows.Scan(&c.analyst, &c.region, &c.def, &data); err != nil {
			rows.Close()
			return err
		}
		if c.bits, err = remap(data); err != nil {
			rows.Close()
			return err
		}
		released = append(released, c)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	rows, err = tx.QueryContext(ctx, "SELECT answer, region, bits FROM feasibility_sets WHERE study = ? AND version = ? ORDER BY id", name, prev.version)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c carriedSet
		var data []byte
		if err := rows.Scan(&c.answer, &c.region, &data); err != nil {
			rows.Close()
			return err
		}
		if c.bits, err = remap(data); err != nil {
			rows.Close()
			return err
		}
		feasible = append(feasible, c)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	for _, q := range []string{"DELETE FROM released_sets WHERE study = ? AND version < ?", "DELETE FROM feasibility_sets WHERE study = ? AND version < ?"} {
		if _, err := tx.ExecContext(ctx, q, name, version); err != nil {
			return err
		}
	}
	for _, c := range released {
		n := c.bits.count()
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO released_sets (analyst, study, version, digest, region, definition, size, bits) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (analyst, study, version, digest, region) DO NOTHING",
			c.analyst, name, version, bitsDigest(c.bits), c.region, c.def, n, encodeWords(c.bits)); err != nil {
			return err
		}
	}
	for _, c := range feasible {
		n := c.bits.count()
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO feasibility_sets (study, version, digest, size, bits, answer, region) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (study, version, digest) DO NOTHING",
			name, version, bitsDigest(c.bits), n, encodeWords(c.bits), c.answer, c.region); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM retired_loads WHERE study = ?", name)
	return err
}

// closeRows closes rows and returns the error that ended the iteration, if any.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}
