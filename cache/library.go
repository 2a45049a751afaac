package cache

import (
	"context"
	"database/sql"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// LibraryEntry is one stored result as a library listing across networks shows it: the
// summary the app's Library lists, the network it was computed on and its request (what was
// asked: cohort, grouping, endpoint, variables, model). It holds no aggregates.
type LibraryEntry struct {
	app.ResultSummary
	Request app.Request
}

// Library lists stored results like Results (pinned first, newest first, the same filter;
// f.Network "" lists every network's), each with its network and request.
func (db *DB) Library(ctx context.Context, f app.ResultFilter) ([]LibraryEntry, error) {
	q, args := resultsQuery("id, name, kind, study, pinned, ran_at, expected, answered, network_id, request", f)
	var out []LibraryEntry
	err := db.read(ctx, "list the library", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e LibraryEntry
			var kind, request string
			var ran int64
			if err := rows.Scan(&e.ID, &e.Name, &kind, &e.Study, &e.Pinned, &ran, &e.Expected, &e.Answered, &e.Network, &request); err != nil {
				return err
			}
			e.Kind, e.RanAt = protocol.Kind(kind), fromNanos(ran)
			if err := decode(request, &e.Request, "request"); err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}
