package node

import (
	"context"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// StudyData is one study held in memory column by column: row i of every slice is patient i.
// It is what an import produces, what a Store persists and what the Engine queries.
type StudyData struct {
	Name    string
	DataCut string   // YYYY-MM-DD, "" when unknown
	IDs     []string // the site's patient identifiers (never released)
	// StudyVersion is the study's declared version (its dictionary's), "" when undeclared.
	StudyVersion string
	// Title is the study's title in words ("Advanced NSCLC, first line"), "" when none was
	// declared (the dictionary's "title" or import --title). It is public and not part of
	// the dictionary's hash.
	Title string
	// Variables in the dictionary's order, then undeclared ones in the CSV's column order.
	Variables []VariableData
	Endpoints []EndpointData
}

// Dictionary returns the study's dictionary as the catalog publishes it: every variable with
// its declared categories and range, and every endpoint.
func (s *StudyData) Dictionary() ([]protocol.Variable, []protocol.Endpoint) {
	vars := make([]protocol.Variable, 0, len(s.Variables))
	for _, v := range s.Variables {
		vars = append(vars, v.Variable)
	}
	eps := make([]protocol.Endpoint, 0, len(s.Endpoints))
	for _, e := range s.Endpoints {
		eps = append(eps, protocol.Endpoint{Name: e.Name, Label: e.Label, HorizonDays: e.HorizonDays, Causes: e.Causes})
	}
	return vars, eps
}

// DictionaryHash is protocol.DictionaryHash of the study's version and dictionary.
func (s *StudyData) DictionaryHash() string {
	vars, eps := s.Dictionary()
	return protocol.DictionaryHash(s.StudyVersion, vars, eps)
}

// Len returns the number of patients.
func (s *StudyData) Len() int { return len(s.IDs) }

// Variable returns the variable named name, or nil.
func (s *StudyData) Variable(name string) *VariableData {
	for i := range s.Variables {
		if s.Variables[i].Name == name {
			return &s.Variables[i]
		}
	}
	return nil
}

// Endpoint returns the endpoint named name, or nil.
func (s *StudyData) Endpoint(name string) *EndpointData {
	for i := range s.Endpoints {
		if s.Endpoints[i].Name == name {
			return &s.Endpoints[i]
		}
	}
	return nil
}

// VariableData is one variable's dictionary entry and values. A numeric variable uses
// Numeric (NaN = missing); a categorical one uses Codes, indexes into Categories (-1 = missing).
type VariableData struct {
	protocol.Variable
	Numeric []float64
	Codes   []int32
	// Members are, for a grouping whose levels a query merged (mergedGroups), the levels of
	// each category; nil otherwise.
	Members [][]string
}

// Missing reports whether row i has no value.
func (v *VariableData) Missing(i int) bool {
	if v.Type == protocol.Numeric {
		return v.Numeric[i] != v.Numeric[i] // NaN
	}
	return v.Codes[i] < 0
}

// EndpointData is a time-to-event outcome: time in days (≥ 0) and event flag per patient.
type EndpointData struct {
	Name  string
	Label string
	// HorizonDays is the endpoint's declared horizon (the dictionary's horizon_days, public):
	// differentially private survival releases bin it up to there instead of the policy's
	// dp_horizon_days. Nil when not declared.
	HorizonDays *float64
	Time        []float64
	Event       []bool
	// Causes labels the endpoint's competing causes (cause c is Causes[c-1]); nil for an
	// endpoint with one kind of event. Cause then holds each patient's cause code: c-1 for an
	// event of cause c, -1 for a censoring (Event[i] is Cause[i] ≥ 0).
	Causes []string
	Cause  []int32
	// Entry is each patient's time of entry into observation (delayed entry, left truncation),
	// 0 for a patient observed from the time origin; nil when the site records none. Entry[i]
	// < Time[i] whenever Entry[i] > 0 (import refuses the rest).
	Entry []float64
}

// DelayedEntry reports whether any patient of the endpoint entered observation late.
func (e *EndpointData) DelayedEntry() bool {
	for _, x := range e.Entry {
		if x > 0 {
			return true
		}
	}
	return false
}

// StudyInfo is a study's header as the store lists it. Version changes on every import, so
// the Engine knows when its in-memory columns are stale.
type StudyInfo struct {
	Name       string
	DataCut    string
	Patients   int
	Version    int64
	ImportedAt time.Time
	// StudyVersion and DictionaryHash are the declared version and the dictionary's hash as
	// imported ("" for a study imported before migration 006).
	StudyVersion   string
	DictionaryHash string
	Title          string
}

// Store is where a site keeps its studies, its audit log and its disclosure-guard state.
// SQLiteStore is the default implementation; a PostgreSQL one can follow (hospital data
// teams run that). Every method is one transaction. Several node processes may share one
// store: the audit chain, the budget and the released sets live in it, not in a process.
type Store interface {
	// ReplaceStudy stores s, replacing any study of the same name atomically: readers see
	// either the old study or the new one, and a failure leaves the old one in place. It
	// refuses (code invalid, ErrDictionaryChanged) to replace a study whose dictionary hash
	// differs under the same declared StudyVersion: sites of a study publish one dictionary,
	// and changing it takes a new version.
	ReplaceStudy(ctx context.Context, s *StudyData) (StudyInfo, error)
	// Studies lists the stored studies, sorted by name.
	Studies(ctx context.Context) ([]StudyInfo, error)
	// LoadStudy reads a study's columns. Unknown name: error with code not_found.
	LoadStudy(ctx context.Context, name string) (*StudyData, StudyInfo, error)
	// DeleteStudy removes a study. Unknown name: error with code not_found.
	DeleteStudy(ctx context.Context, name string) error

	// SiteName returns the site name stored at import ("" when never set).
	SiteName(ctx context.Context) (string, error)
	// SetSiteName stores the site name the network sees.
	SetSiteName(ctx context.Context, name string) error

	// Release runs fn as one atomic step of the release decision for analyst: fn reads the
	// analyst's budget and released sets, decides, records the sets it releases and appends
	// the audit record (of a refusal too) through tx, and everything fn wrote is committed
	// together when fn returns nil, or not at all when it returns an error (which Release
	// returns). No other Release that touches analyst's budget or sets, nor any audit
	// append, runs between fn's reads and the commit, whether it comes from this process or
	// from another process serving the same database: otherwise two replicas answering A and
	// A minus one patient at the same moment would both pass the overlap guard, and the
	// budget's last query could be answered twice. Nor does any Release that reads or adds
	// feasibility sets of the same study version, whoever its analyst (they are site-wide):
	// otherwise two replicas would answer near-duplicate sets with two independent draws. A
	// second caller waits for the first.
	//
	// SQLiteStore takes the database's write lock before the first read (BEGIN IMMEDIATE,
	// the connection's busy timeout bounds the wait). A PostgreSQL store can lock the
	// analyst's row first (SELECT ... FROM analysts WHERE name = $1 FOR UPDATE, the row
	// inserted on first use), a row per study version before reading its feasibility sets,
	// and the audit chain's head row before appending, or run the
	// transaction SERIALIZABLE and retry fn on a serialization failure; fn must therefore
	// have no effect outside tx, and may be called more than once.
	//
	// tx is valid only until fn returns.
	Release(ctx context.Context, analyst string, fn func(tx ReleaseTx) error) error
	// SiteSecret returns the site's 32-byte secret key (the key of the noise of feasibility
	// counts), creating it from crypto/rand on first use. Every caller, in any process serving
	// the store, gets the same key for the store's lifetime. It must never leave the node.
	SiteSecret(ctx context.Context) ([]byte, error)

	// AuditRecords returns the whole log in order.
	AuditRecords(ctx context.Context) ([]AuditRecord, error)

	Close() error
}

// ReleaseTx is a store inside Release: the release-decision state of one analyst, and the
// site-wide feasibility sets, read and written in one transaction. Using it for another
// analyst's records panics.
type ReleaseTx interface {
	// CountQueries returns how many budgeted queries the analyst made at or after since.
	CountQueries(ctx context.Context, since time.Time) (int, error)
	// CountFeasibility returns how many feasibility counts (AuditEntry.Feasibility) the
	// analyst asked at or after since.
	CountFeasibility(ctx context.Context, since time.Time) (int, error)
	// SpentRho returns the differential-privacy cost (AuditEntry.Rho) the analyst was charged
	// for study at or after since (the zero time: ever).
	SpentRho(ctx context.Context, study string, since time.Time) (float64, error)
	// StudyVersion returns the version of the study's current load (0: none). A decision
	// computed on another load is not released: the guard's sets of that load were carried
	// over to the new one when it was imported (carryover.go), and a set saved for the old
	// load now would be lost to the new one.
	StudyVersion(ctx context.Context, study string) (int64, error)
	// ReleasedSets returns the sets remembered for owner (the analyst, or the study-wide
	// guard's owner, guardscope.go) for one study version whose ID is above after, in ID
	// order (after 0: all of them).
	ReleasedSets(ctx context.Context, owner, study string, version, after int64) ([]ReleasedSet, error)
	// SaveReleasedSet remembers a patient set released to the analyst through a region
	// (overlap guard) and returns its ID, which is above the ID of every set stored before it.
	// A set identical to one already stored with the same region (same study version, bits
	// and region) is not stored again; its ID is returned.
	SaveReleasedSet(ctx context.Context, r ReleasedSet) (int64, error)
	// AppendAudit adds e to the hash-chained audit log and returns the stored record.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditRecord, error)
	// FeasibilitySets returns the feasibility sets remembered for one study version, asked by
	// any analyst, whose ID is above after, in ID order (after 0: all of them).
	FeasibilitySets(ctx context.Context, study string, version, after int64) ([]FeasibilitySet, error)
	// SaveFeasibilitySet remembers a feasibility set and its answer and returns its ID, which
	// is above the ID of every set stored before it. A set identical to one already stored
	// (same study version and bits) is not stored again: its ID and answer are returned
	// instead, so that the first answer stays the answer. It returns the set as stored (ID,
	// answer and region).
	SaveFeasibilitySet(ctx context.Context, f FeasibilitySet) (FeasibilitySet, error)
}

// FeasibilitySet is a patient set whose feasibility count was answered (to any analyst), with
// the count released: a bitset over the rows of one version of a study. An Answer below the
// policy's min_cohort means the answer was the small-cohort refusal.
type FeasibilitySet struct {
	ID      int64 // assigned by the store
	Study   string
	Version int64
	Size    int
	Bits    []uint64
	Answer  int
	// Region is the region (regionOf) of the query or exact release that gave the set its own
	// answer; "" for a set remembered before migration 014 (no region matches it).
	Region string
}

// ReleasedSet is a patient set (a cohort or one of its groups) whose aggregate was released to
// an analyst: a bitset over the rows of one version of a study, and the region (regionOf: the
// hash of the canonical definition) it was released through; "" for a set stored before
// regions were (unknown: no new region matches it).
type ReleasedSet struct {
	ID      int64 // assigned by the store
	Analyst string
	Study   string
	Version int64
	Region  string
	// Definition is the region's canonical filter as JSON ("null": every patient; "": unknown,
	// a set stored before migration 011), for the guard's region algebra (definition.go).
	Definition string
	Size       int
	Bits       []uint64
}
