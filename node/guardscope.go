package node

// The overlap guard's scope (policy overlap_guard_scope). By default the guard remembers
// each analyst key's releases apart: two keys — two colluding analysts, or one person holding
// two — can split any differencing attack between them (A to one, A minus x to the other;
// TestAttackGuardCollusion recovers every target so). With scope "study" the releases of every
// analyst of a study are remembered together, under one owner in the store (studyGuardOwner),
// so each rule of the guard (guard.go, guard4.go, guardfeas.go) sees what any key was given:
// the same attack recovers nothing. Budgets and the audit log stay per key; a re-run of a
// definition another analyst released is answered (the same patients by the same definition),
// a near set by a new definition refused, as for one analyst.
//
// Why it is not the default: the guard then refuses an analyst's query because of another
// analyst's release (a colleague's cohort one patient away), and its cost grows with the sets
// released to all analysts of the study rather than to one (rule 5 is O(m² log m) in them,
// guard.go). Trusted analysts are individually named under a data-use agreement and every
// query is audited per key; a site whose analysts do not answer for each other, or that
// lists several keys for one organisation, sets "study". Differentially private releases
// are accounted per key: k colluding dp analysts hold k budgets (docs/privacy.md).

const (
	GuardScopeAnalyst = "analyst" // each analyst key's releases apart (the default)
	GuardScopeStudy   = "study"   // every analyst's releases of a study together
)

// studyGuardOwner is the store's owner of the sets remembered under scope "study": not a name
// an analysts file can hold (names are whitespace-free fields) nor one a signed query carries.
const studyGuardOwner = "\x00study guard"

// guardOwner returns whose guard memory the releases to analyst join.
func (e *Engine) guardOwner(analyst string) string {
	if e.policy.OverlapGuardScope == GuardScopeStudy {
		return studyGuardOwner
	}
	return analyst
}
