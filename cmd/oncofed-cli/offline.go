package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/protocol"
)

// errNotCached marks an --offline request that the cache holds no result of: exit status 4.
var errNotCached = errors.New("not cached")

// cachePathFor is the cache --offline and library read: --cache, else the desktop app's
// (cache.DefaultPath).
func cachePathFor(c *common) (string, error) {
	if c.cachePath != "" {
		return c.cachePath, nil
	}
	p, err := cache.DefaultPath()
	if err != nil {
		return "", fmt.Errorf("no user cache directory for the desktop app's cache (give --cache FILE): %w", err)
	}
	return p, nil
}

// openCache opens an existing result cache; a missing file is errNotCached (nothing is created).
func openCache(ctx context.Context, c *common) (*cache.DB, string, error) {
	path, err := cachePathFor(c)
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, path, fmt.Errorf("%w: there is no result cache at %s (the desktop app's, or give --cache FILE)", errNotCached, path)
	}
	db, err := cache.Open(ctx, path)
	if err != nil {
		return nil, path, err
	}
	return db, path, nil
}

// connectOffline opens the cache and a service on it without a network: nothing is dialled
// and no demo network is started. The network whose results are read is --hub's URL or the
// demo (--demo); with neither, the most recently connected cached network whose catalog
// serves --study (any, for commands without a study).
func connectOffline(ctx context.Context, c *common) (*env, error) {
	db, path, err := openCache(ctx, c)
	if err != nil {
		return nil, err
	}
	e := &env{offline: true, c: c, db: db, closers: []func(){func() { db.Close() }}}
	info, err := offlineNetwork(ctx, db, c, path)
	if err != nil {
		e.Close()
		return nil, err
	}
	analyst := c.analyst
	if analyst == "" {
		analyst = defaultAnalyst()
	}
	e.cachePath = path
	e.svc = app.NewService(nil, db, info, app.WithAnalyst(analyst))
	return e, nil
}

// offlineNetwork names the network --offline reads (see connectOffline).
func offlineNetwork(ctx context.Context, db *cache.DB, c *common, path string) (app.NetworkInfo, error) {
	switch {
	case c.demo:
		return app.NetworkInfo{ID: "demo", Name: "demo", Demo: true}, nil
	case c.hub != "":
		shown := app.RedactURL(c.hub)
		return app.NetworkInfo{ID: shown, Name: shown, URL: shown}, nil
	}
	nets, err := db.Networks(ctx)
	if err != nil {
		return app.NetworkInfo{}, err
	}
	for _, n := range nets {
		if c.study == "" {
			return n, nil
		}
		if cat, err := db.Catalog(ctx, n.ID); err == nil && cat.Study(c.study) != nil {
			return n, nil
		}
	}
	what := "no network"
	if c.study != "" {
		what = "no network serving study " + c.study
	}
	return app.NetworkInfo{}, fmt.Errorf("%w: the cache %s knows %s; run a command online first, or see what is cached with: oncofed-cli library list --cache %s",
		errNotCached, path, what, path)
}

// cachedCatalog is the network's catalog as last fetched online.
func (e *env) cachedCatalog(ctx context.Context) (*app.Catalog, error) {
	cat, _, err := e.svc.LoadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	if cat == nil {
		n := e.svc.Network().Name
		return nil, fmt.Errorf("%w: no catalog of network %s is cached in %s; run a command on it online first, or see what is cached with: oncofed-cli library list --cache %s",
			errNotCached, n, e.cachePath, e.cachePath)
	}
	return cat, nil
}

// run runs req on the network, or --offline answers it from the cache: the newest stored
// result of the identical request, announced with its age, or errNotCached.
func (e *env) run(ctx context.Context, req app.Request) (*app.Result, error) {
	if !e.offline {
		return e.svc.Run(ctx, req)
	}
	r, err := e.svc.Latest(ctx, req)
	if app.ErrorCode(err) == app.ENotFound {
		r, err = e.sameQuery(ctx, req)
	}
	if app.ErrorCode(err) == app.ENotFound {
		return nil, fmt.Errorf("%w: %s on network %s was never computed with these options into %s; run it without --offline first, or see what is cached with: oncofed-cli library list --cache %s",
			errNotCached, requestText(req), e.svc.Network().Name, e.cachePath, e.cachePath)
	}
	if err != nil {
		return nil, err
	}
	noteCached(e.c, r, time.Now())
	return r, nil
}

// noteCached says that r comes from the cache and how old it is: before a text result on
// standard output, on standard error when the output is JSON or CSV (so it stays parseable).
func noteCached(c *common, r *app.Result, now time.Time) {
	w := c.stdout
	if c.format != "text" {
		w = c.stderr
	}
	if w == nil {
		w = io.Discard
	}
	fmt.Fprintln(w, cachedLine(r, now))
}

// cachedLine is "cached, computed 2026-11-28 14:02 UTC, 3 days ago (result 12, network demo)".
func cachedLine(r *app.Result, now time.Time) string {
	at := r.Provenance.RanAt
	return fmt.Sprintf("cached, computed %s, %s (result %d, network %s)", at.Local().Format("2006-01-02 15:04 MST"), app.Age(now, at), r.ID, r.Network)
}

// requestText names a request in words: "Kaplan–Meier of os by sex (lung) where age >= 60".
func requestText(req app.Request) string {
	s := app.DefaultName(req)
	if req.Cohort != nil {
		s += " where " + protocol.FormatFilter(req.Cohort)
	}
	var opts []string
	if len(req.Landmarks) > 0 {
		var xs []string
		for _, x := range req.Landmarks {
			xs = append(xs, g(x))
		}
		opts = append(opts, "landmarks "+strings.Join(xs, ","))
	}
	if req.Cox != nil {
		form := string(req.Cox.Form)
		if req.Cox.Strata != "" {
			form += " by site and " + req.Cox.Strata
		}
		opts = append(opts, req.Cox.Ties+" ties", form)
	}
	if len(opts) > 0 {
		s += " [" + strings.Join(opts, "; ") + "]"
	}
	return s
}

// sameQuery finds the newest cached result on the service's network whose request asks the
// sites the same as req and differs only in what the CLI does not print from it: the cohort's
// display name (the desktop app names every filtered cohort) and a km request's landmarks (the
// km command computes its --landmarks from the stored tables). Cohorts compare in the --where
// syntax (protocol.FormatFilter). ENotFound when there is none.
func (e *env) sameQuery(ctx context.Context, req app.Request) (*app.Result, error) {
	want, err := queryKey(req)
	if err != nil {
		return nil, err
	}
	entries, err := e.db.Library(ctx, app.ResultFilter{Network: e.svc.Network().ID, Study: req.Study, Kind: req.Kind})
	if err != nil {
		return nil, err
	}
	var newest *cache.LibraryEntry
	for i, en := range entries {
		if k, err := queryKey(en.Request); err != nil || k != want {
			continue
		}
		if newest == nil || en.RanAt.After(newest.RanAt) {
			newest = &entries[i]
		}
	}
	if newest == nil {
		return nil, app.Errorf(app.ENotFound, "no result of this request is cached")
	}
	return e.svc.Open(ctx, newest.ID)
}

// queryKey is the part of a request sameQuery compares, as JSON.
func queryKey(req app.Request) (string, error) {
	cohort := ""
	if req.Cohort != nil {
		cohort = protocol.FormatFilter(req.Cohort)
	}
	req.CohortName, req.Cohort = "", nil
	if req.Kind == protocol.KindSurvival {
		req.Landmarks = nil
	}
	b, err := json.Marshal(struct {
		Request app.Request
		Cohort  string
	}{req, cohort})
	return string(b), err
}
