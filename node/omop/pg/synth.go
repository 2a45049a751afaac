package pg

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/synth"
)

// ddl is the subset of the CDM v5.4 DDL that Oncofed reads, keys its primary keys.
var (
	//go:embed cdm_ddl.sql
	ddl string
	//go:embed cdm_keys.sql
	keys string
)

// synthMark is the cdm_source abbreviation of a CDM that WriteSynthSite wrote: only such a
// schema may be replaced.
const synthMark = "oncofed-synth"

// SchemaName is the schema a synthetic site is written to: its name with - as _.
func SchemaName(site string) string { return strings.ReplaceAll(site, "-", "_") }

// CreateCDM creates schema with the CDM v5.4 tables Oncofed reads (cdm_ddl.sql, from the
// official DDL), empty and without keys, for a load.
func CreateCDM(ctx context.Context, tx pgx.Tx, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+q+";\n"+strings.ReplaceAll(ddl, "@cdmDatabaseSchema", q)); err != nil {
		return fmt.Errorf("creating the CDM tables: %w", err)
	}
	return nil
}

// WriteSynthSite writes site i of each generator (the studies of one federation, whose site
// i is the same hospital) into schema as one OMOP CDM v5.4: the tables of cdm_ddl.sql, the
// concepts the studies' definitions name (omop.SynthConcepts), every patient
// (omop.WriteSynth, with COPY), a cdm_source row and the primary keys. It runs in one
// transaction: a failure leaves the database as it was. A schema of that name that another
// WriteSynthSite wrote is replaced; any other is refused.
func WriteSynthSite(ctx context.Context, conn *pgx.Conn, schema string, gens []*synth.Generator, site int) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	q := pgx.Identifier{schema}.Sanitize()
	var exists, ours bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return err
	}
	if exists {
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+q+".cdm_source WHERE cdm_source_abbreviation = $1)", synthMark).Scan(&ours)
		if err != nil || !ours {
			return fmt.Errorf("schema %s exists and is not a synthetic CDM written by oncofed-node synth: refusing to replace it", schema)
		}
		if _, err := tx.Exec(ctx, "DROP SCHEMA "+q+" CASCADE"); err != nil {
			return err
		}
	}
	if err := CreateCDM(ctx, tx, schema); err != nil {
		return err
	}
	w := copyWriter{tx: tx, schema: schema}
	var studies []synth.Study
	for _, g := range gens {
		studies = append(studies, g.Spec().Study)
	}
	cols, rows, err := omop.SynthConcepts(studies)
	if err != nil {
		return err
	}
	if err := w.WriteRows(ctx, "concept", cols, rows); err != nil {
		return err
	}
	ids := omop.RowIDs{}
	for _, g := range gens {
		if err := omop.WriteSynth(ctx, g, site, ids, w); err != nil {
			return fmt.Errorf("study %s: %w", g.Spec().Name, err)
		}
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	name := gens[0].Sites()[site].Name
	if _, err := tx.Exec(ctx, "INSERT INTO "+q+`.cdm_source (cdm_source_name, cdm_source_abbreviation, cdm_holder, source_description,
  source_release_date, cdm_release_date, cdm_version, cdm_version_concept_id, vocabulary_version)
VALUES ($1, $2, $3, 'synthetic hospital (oncofed-node synth)', $4, $4, 'v5.4', 0, 'oncofed synth')`,
		name+" (synthetic)", synthMark, name, today); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, strings.ReplaceAll(keys, "@cdmDatabaseSchema", q)); err != nil {
		return fmt.Errorf("primary keys: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// Statistics, as a CDM's ETL leaves them (autovacuum would, later): without them the
	// planner takes the fresh tables for empty and joins them with nested loops.
	for _, t := range append([]string{"concept", "cdm_source"}, omop.SynthTables...) {
		if _, err := conn.Exec(ctx, "ANALYZE "+pgx.Identifier{schema, t}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}

type copyWriter struct {
	tx     pgx.Tx
	schema string
}

func (w copyWriter) WriteRows(ctx context.Context, table string, columns []string, rows [][]any) error {
	_, err := w.tx.CopyFrom(ctx, pgx.Identifier{w.schema, table}, columns, pgx.CopyFromRows(rows))
	return err
}
