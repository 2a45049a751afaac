package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/oncofed/oncofed/node"
)

func init() {
	register("studies", "list the studies of a node database", runStudies)
	register("query", "answer one JSON query (stdin or --query) from a node database, as the network would (audited)", runQuery)
}

func runStudies(args []string) error {
	fs := flag.NewFlagSet("studies", flag.ContinueOnError)
	db := fs.String("db", "", "node database `PATH`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := openExisting(fs, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	site, err := store.SiteName(ctx)
	if err != nil {
		return err
	}
	if site == "" {
		site = node.DefaultSiteName(*db) + " (from the file name)"
	}
	infos, err := store.Studies(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("site %s\n", site)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STUDY\tPATIENTS\tDATA CUT\tVERSION\tIMPORTED")
	for _, s := range infos {
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%s\n", s.Name, s.Patients, s.DataCut, s.Version, s.ImportedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func runQuery(args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	db := fs.String("db", "", "node database `PATH`")
	policyPath := fs.String("policy", "", "policy JSON `FILE` (default: the safe defaults)")
	qpath := fs.String("query", "-", "query JSON `FILE` (- for stdin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	policy, err := node.LoadPolicy(*policyPath)
	if err != nil {
		return err
	}
	store, err := openExisting(fs, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	var in io.Reader = os.Stdin
	if *qpath != "-" {
		f, err := os.Open(*qpath)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	msg, err := io.ReadAll(io.LimitReader(in, 1<<20))
	if err != nil {
		return err
	}
	ctx := context.Background()
	// The operator's own query, read from a local file by someone who can read the database:
	// there is no analyst to authenticate.
	e, err := node.NewEngine(ctx, store, node.Config{InsecureOpen: true, Policy: &policy})
	if err != nil {
		return err
	}
	out := e.HandleJSON(ctx, msg)
	fmt.Println(string(out))
	return nil
}

// openExisting opens a node database that must already exist (a typo must not create one).
func openExisting(fs *flag.FlagSet, path string) (*node.SQLiteStore, error) {
	if path == "" {
		fs.Usage()
		return nil, errors.New("--db is required")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return node.OpenSQLite(path)
}
