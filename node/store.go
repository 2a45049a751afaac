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
	// Variables in import order (the CSV's column order).
	Variables []VariableData
	Endpoints []EndpointData
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
	Time  []float64
	Event []bool
}

// StudyInfo is a study's header as the store lists it. Version changes on every import, so
// the Engine knows when its in-memory columns are stale.
type StudyInfo struct {
	Name       string
	DataCut    string
	Patients   int
	Version    int64
	ImportedAt time.Time
}

// Store is where a site keeps its studies, its audit log and its disclosure-guard state.
// SQLiteStore is the default implementation; a PostgreSQL one can follow (hospital data
// teams run that). Every method is one transaction. Several node processes may share one
// store: the audit chain, the budget and the released sets live in it, not in a process.
type Store interface {
	// ReplaceStudy stores s, replacing any study of the same name atomically: readers see
	// either the old study or the new one, and a failure leaves the old one in place.
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

	// AppendAudit adds e to the hash-chained audit log and returns the stored record.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditRecord, error)
	// AuditRecords returns the whole log in order.
	AuditRecords(ctx context.Context) ([]AuditRecord, error)
	// CountQueries returns how many budgeted queries analyst made at or after since.
	CountQueries(ctx context.Context, analyst string, since time.Time) (int, error)

	// SaveReleasedSet remembers a patient set released to an analyst (overlap guard).
	SaveReleasedSet(ctx context.Context, r ReleasedSet) error
	// ReleasedSets returns the sets released to analyst for one study version whose ID is
	// above after, in ID order (after 0: all of them).
	ReleasedSets(ctx context.Context, analyst, study string, version, after int64) ([]ReleasedSet, error)

	Close() error
}

// ReleasedSet is a patient set (a cohort or one of its groups) whose aggregate was released to
// an analyst: a bitset over the rows of one version of a study.
type ReleasedSet struct {
	ID      int64 // assigned by the store
	Analyst string
	Study   string
	Version int64
	Size    int
	Bits    []uint64
}
