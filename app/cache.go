package app

import (
	"context"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Cache is the local store behind offline review. Every method is one transaction: a write
// either lands whole or not at all. Methods return *Error with code ENotFound for a missing
// row and EConflict for a name already taken. The SQLite implementation is package cache.
type Cache interface {
	// SaveNetwork inserts or updates a network (by ID).
	SaveNetwork(ctx context.Context, n NetworkInfo) error
	// Networks lists the known networks, most recently connected first.
	Networks(ctx context.Context) ([]NetworkInfo, error)

	// SaveSites replaces the site list of a network.
	SaveSites(ctx context.Context, network string, sites []SiteRecord) error
	// Sites returns the sites of a network, sorted by name.
	Sites(ctx context.Context, network string) ([]SiteRecord, error)

	// SaveCatalog replaces the catalog of a network (per-site catalogs, missing sites, time).
	SaveCatalog(ctx context.Context, network string, c *Catalog) error
	// Catalog returns the cached catalog of a network, merged; ENotFound when none.
	Catalog(ctx context.Context, network string) (*Catalog, error)

	// SaveCohort inserts (ID 0; the new ID is set) or updates a named cohort. Names are
	// unique per network and study (EConflict).
	SaveCohort(ctx context.Context, c *Cohort) error
	// Cohorts lists a network's cohorts of a study ("" = every study), by name.
	Cohorts(ctx context.Context, network, study string) ([]Cohort, error)
	// DeleteCohort deletes a cohort.
	DeleteCohort(ctx context.Context, id int64) error

	// SaveResult stores a result with its request, provenance and rounds; it sets r.ID.
	SaveResult(ctx context.Context, r *Result) error
	// Result loads a stored result with its rounds; the payload is left for the caller to
	// compute (see Recompute).
	Result(ctx context.Context, id int64) (*Result, error)
	// Results lists stored results, pinned first, newest first.
	Results(ctx context.Context, f ResultFilter) ([]ResultSummary, error)
	// LatestResult returns the newest result of a network with the given request key
	// (Request.Key), or ENotFound.
	LatestResult(ctx context.Context, network, requestKey string) (*Result, error)
	// RenameResult, PinResult and DeleteResult change one result; ENotFound if it does not exist.
	RenameResult(ctx context.Context, id int64, name string) error
	// PinResult also stores how the result was shown (nil keeps what is stored).
	PinResult(ctx context.Context, id int64, pinned bool, shown *Display) error
	DeleteResult(ctx context.Context, id int64) error

	// Close releases the store.
	Close() error
}

// ResultFilter selects results to list. Zero values select everything.
type ResultFilter struct {
	Network string
	Study   string
	Kind    protocol.Kind
	Pinned  bool // only pinned results
	Offset  int
	Limit   int // 0 = no limit
}

// Cohort is a saved, named cohort definition: a filter on a study, with the endpoint and
// grouping the analyst chose.
type Cohort struct {
	ID        int64
	Network   string
	Study     string
	Name      string
	Endpoint  string
	GroupBy   string
	Filter    *protocol.Filter
	CreatedAt time.Time
	UpdatedAt time.Time
}
