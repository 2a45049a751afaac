package cache

import (
	"context"
	"database/sql"
)

// StoredResultBytes is what the results in the cache file db (opened as a plain SQLite
// database, of any schema version: it is not migrated) take: every result's request,
// provenance, trace and packed baseline, its rounds' queries and reply digests, and the replies
// it keeps — the bytes of the columns, without SQLite's pages and indexes. `make bench` reports
// it per result (bench/cmd/oncofed-bench), and network/demo's TestPooledCoxCacheBytes bounds it.
func StoredResultBytes(ctx context.Context, db *sql.DB) (int64, error) {
	q := `SELECT (SELECT coalesce(sum(length(request) + length(provenance)), 0) FROM results)
		+ (SELECT coalesce(sum(length(query)), 0) FROM result_rounds)
		+ (SELECT coalesce(sum(length(reply)), 0) FROM result_replies)`
	// Schema 4 added the trace and digests, schema 6 the packed baseline.
	for _, c := range [][2]string{
		{"trace", `(SELECT coalesce(sum(length(trace)), 0) FROM results) + (SELECT coalesce(sum(length(replies)), 0) FROM result_rounds)`},
		{"baseline", `(SELECT coalesce(sum(length(baseline)), 0) FROM results)`},
	} {
		col, sum := c[0], c[1]
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('results') WHERE name = ?`, col).Scan(&n); err != nil {
			return 0, err
		}
		if n == 1 {
			q += " + " + sum
		}
	}
	var n int64
	err := db.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}
