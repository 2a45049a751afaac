package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/oncofed/oncofed/protocol"
)

// DefaultPolicy is the policy of a node started without --policy: safe for identifiable
// hospital data.
func DefaultPolicy() protocol.Policy {
	return protocol.Policy{
		MinCohort:             10,
		MinCell:               5,
		BinDays:               7,
		OverlapGuard:          true,
		DailyQueryBudget:      500,
		EventsPerCoxCovariate: 10,
		MaxCoxLogHR:           DefaultMaxCoxLogHR,
		FeasibilityRounding:   10,
		FeasibilityNoise:      3,
		FeasibilityCost:       DefaultFeasibilityCost,
		DPRhoCount:            DefaultDP.DPRhoCount,
		DPRhoFeasibility:      DefaultDP.DPRhoFeasibility,
		DPRhoSurvival:         DefaultDP.DPRhoSurvival,
		DPRhoSummary:          DefaultDP.DPRhoSummary,
		DPRhoCox:              DefaultDP.DPRhoCox,
		DPRhoDaily:            DefaultDP.DPRhoDaily,
		DPRhoTotal:            DefaultDP.DPRhoTotal,
		DPBinDays:             DefaultDP.DPBinDays,
		DPHorizonDays:         DefaultDP.DPHorizonDays,
	}
}

// DefaultDP holds the differential-privacy settings of every policy that does not set them
// (README's "Differential privacy: what it costs" and dp/UTILITY.md have the measurements
// behind them): a KM query at ρ = 0.02 is within 0.02 of the exact curve (median max|ΔS|, end
// to end through a node with its 3650-day horizon) for a 2,000-patient cohort, where 0.015
// missed; a count at ρ = 0.005 has noise of sd 10; 0.25 a day allows 10 KM queries and 10
// counts per study (12 KM queries alone); the lifetime 2.0 (ε ≈ 11.7 at δ = 10⁻⁶,
// dp/UTILITY.md) bounds what the daily budget cannot, as ρ adds up across days. Monthly bins up
// to 10 years of follow-up. A feasibility count costs 0.0005 (noise of sd 32, then rounded to
// 10), so that a hundred edits of a cohort's filters take a fifth of a day's budget.
// A summary (Table 1) costs 0.1, split over its components (node/dpsummary.go): with one
// numeric variable (no histogram) and one categorical one each gets ρ = 0.02, counts noise of
// sd 5, and the mean age (declared 18–100) an sd of about 2.3 years at n = 90, 1.5 at
// n = 137 — a Table 1 is asked once per cohort, so it may take two fifths of a day's budget;
// more variables thin each one's share.
var DefaultDP = protocol.Policy{DPRhoCount: 0.005, DPRhoFeasibility: 0.0005, DPRhoSurvival: 0.02, DPRhoSummary: 0.1, DPRhoCox: 0.05, DPRhoDaily: 0.25, DPRhoTotal: 2, DPBinDays: 30, DPHorizonDays: 3650}

// DefaultFeasibilityCost is the share of one query of the daily budget that a feasibility
// count costs (feasibility_cost): 2,000 counts, a day of live cohort-panel edits, take the
// 500 queries of the default budget.
const DefaultFeasibilityCost = 0.25

// maxDPBins bounds dp_horizon_days / dp_bin_days: every bin is released (noised) whether or
// not it holds patients.
const maxDPBins = 1000

// withDPDefaults fills in the differential-privacy settings a policy leaves at zero (a
// policy file or a Go literal from before they existed): a ρ of 0 would be infinite noise.
func withDPDefaults(p protocol.Policy) protocol.Policy {
	d := DefaultDP
	for _, f := range []struct {
		v   *float64
		def float64
	}{
		{&p.DPRhoCount, d.DPRhoCount}, {&p.DPRhoFeasibility, d.DPRhoFeasibility}, {&p.DPRhoSurvival, d.DPRhoSurvival}, {&p.DPRhoSummary, d.DPRhoSummary}, {&p.DPRhoCox, d.DPRhoCox}, {&p.DPRhoDaily, d.DPRhoDaily},
		{&p.DPRhoTotal, d.DPRhoTotal}, {&p.DPBinDays, d.DPBinDays}, {&p.DPHorizonDays, d.DPHorizonDays},
	} {
		if !(*f.v > 0) || math.IsInf(*f.v, 0) {
			*f.v = f.def
		}
	}
	if p.DPHorizonDays/p.DPBinDays > maxDPBins {
		p.DPBinDays = math.Ceil(p.DPHorizonDays / maxDPBins)
	}
	return p
}

// ExactPolicy releases exact tables with no protection at all: for trusted networks and tests.
// It allows the pooled Cox form, and its feasibility counts are exact (rounding 1, no noise,
// no budget).
func ExactPolicy() protocol.Policy {
	return withDPDefaults(protocol.Policy{AllowPooledCox: true, FeasibilityRounding: 1, FeasibilityCost: DefaultFeasibilityCost})
}

// withFeasibilityDefaults fills in the feasibility settings of a policy built in code before
// they existed (FeasibilityRounding 0, which ParsePolicy refuses): an exact policy gets exact
// feasibility counts (rounding 1, no noise), any other the defaults' rounding and noise, so
// that a protective policy written as a Go literal does not release exact feasibility counts.
// FeasibilityBudget 0 stays unlimited.
func withFeasibilityDefaults(p protocol.Policy) protocol.Policy {
	// Out-of-range values ParsePolicy would refuse are brought into range rather than
	// released in a reply that clients refuse.
	p.FeasibilityNoise = min(max(p.FeasibilityNoise, 0), maxFeasibilityNoise)
	p.FeasibilityRounding = min(p.FeasibilityRounding, maxFeasibilityNoise)
	p.FeasibilityBudget = max(p.FeasibilityBudget, 0)
	if !(p.FeasibilityCost > 0 && p.FeasibilityCost <= 1) {
		// A policy built in code before feasibility counts shared the query budget.
		p.FeasibilityCost = DefaultFeasibilityCost
	}
	// The Cox β cap likewise: a protective policy without one (or with a value ParsePolicy
	// refuses) gets the default rather than no cap.
	if !IsExact(p) && !(p.MaxCoxLogHR > 0 && p.MaxCoxLogHR <= math.MaxFloat64) {
		p.MaxCoxLogHR = DefaultMaxCoxLogHR
	}
	if p.FeasibilityRounding > 0 {
		return p
	}
	if IsExact(p) {
		p.FeasibilityRounding, p.FeasibilityNoise = 1, 0
		return p
	}
	d := DefaultPolicy()
	p.FeasibilityRounding, p.FeasibilityNoise = d.FeasibilityRounding, d.FeasibilityNoise
	return p
}

// maxFeasibilityNoise bounds feasibility_rounding and feasibility_noise, so that a count plus
// noise plus half the rounding cannot overflow.
const maxFeasibilityNoise = 1 << 20

// IsExact reports whether p switches off the four core protections (min_cohort, min_cell,
// bin_days, overlap_guard).
func IsExact(p protocol.Policy) bool {
	return p.MinCohort == 0 && p.MinCell == 0 && p.BinDays == 0 && !p.OverlapGuard
}

// ParsePolicy reads a policy JSON document. Fields absent from it keep DefaultPolicy's safe
// values — except in an exact policy (min_cohort, min_cell and bin_days 0, overlap_guard false,
// as the trusted-network example {"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}),
// where the absent daily_query_budget and events_per_cox_covariate default
// to 0 (off) as well, the absent feasibility_rounding to 1 and feasibility_noise to 0 (exact
// feasibility counts), and the absent allow_pooled_cox to true (a trusted network may fit the
// pooled Cox form), and max_cox_log_hr is ignored (exact policies put no cap on a Cox query's β;
// absent, it reads 0). feasibility_rounding must be at least 1. In any other policy
// max_cox_log_hr (default DefaultMaxCoxLogHR) must be a positive finite number: there is no
// uncapped protective policy.
// feasibility_cost (default DefaultFeasibilityCost) must be in (0, 1]: a feasibility count
// costs that share of a query of the daily budget. feasibility_budget, an optional extra cap on
// the feasibility counts a day, defaults to 0 (none: the shared budget bounds them); policy
// files from before the shared budget, which set it (2000 was the default), still parse and
// keep it as that cap.
// Otherwise an absent allow_pooled_cox is false: the pooled form discloses covariate values,
// so a protective policy allows it only when it says so. Unknown fields and negative values are refused, so a typo cannot silently weaken a policy.
func ParsePolicy(data []byte) (protocol.Policy, error) {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(data, &present); err != nil {
		return protocol.Policy{}, fmt.Errorf("node: policy: %w", err)
	}
	p := DefaultPolicy()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return protocol.Policy{}, fmt.Errorf("node: policy: %w", err)
	}
	if IsExact(p) {
		if _, ok := present["daily_query_budget"]; !ok {
			p.DailyQueryBudget = 0
		}
		if _, ok := present["events_per_cox_covariate"]; !ok {
			p.EventsPerCoxCovariate = 0
		}
		if _, ok := present["allow_pooled_cox"]; !ok {
			p.AllowPooledCox = true
		}
		if _, ok := present["feasibility_rounding"]; !ok {
			p.FeasibilityRounding = 1
		}
		if _, ok := present["feasibility_noise"]; !ok {
			p.FeasibilityNoise = 0
		}
		if _, ok := present["max_cox_log_hr"]; !ok {
			p.MaxCoxLogHR = 0
		}
	}
	if p.MinCohort < 0 || p.MinCell < 0 || p.BinDays < 0 || math.IsNaN(p.BinDays) || math.IsInf(p.BinDays, 0) ||
		p.DailyQueryBudget < 0 || p.EventsPerCoxCovariate < 0 || p.FeasibilityNoise < 0 || p.FeasibilityBudget < 0 ||
		p.MaxCoxLogHR < 0 || math.IsNaN(p.MaxCoxLogHR) || math.IsInf(p.MaxCoxLogHR, 0) {
		return protocol.Policy{}, fmt.Errorf("node: policy: negative or non-finite value")
	}
	if p.OverlapGuardScope != "" && p.OverlapGuardScope != GuardScopeAnalyst && p.OverlapGuardScope != GuardScopeStudy {
		return protocol.Policy{}, fmt.Errorf("node: policy: overlap_guard_scope %q: must be %q (each analyst's releases, the default) or %q (every analyst's of the study together)", p.OverlapGuardScope, GuardScopeAnalyst, GuardScopeStudy)
	}
	if !IsExact(p) && p.MaxCoxLogHR == 0 {
		return protocol.Policy{}, fmt.Errorf("node: policy: max_cox_log_hr 0: a protective policy needs a positive cap on the Cox β (only an exact policy has none; the default is %g)", float64(DefaultMaxCoxLogHR))
	}
	if !(p.FeasibilityCost > 0 && p.FeasibilityCost <= 1) {
		return protocol.Policy{}, fmt.Errorf("node: policy: feasibility_cost %v: must be above 0 and at most 1 (the share of one query of the daily budget a feasibility count costs; default %g)", p.FeasibilityCost, DefaultFeasibilityCost)
	}
	if p.FeasibilityRounding < 1 {
		return protocol.Policy{}, fmt.Errorf("node: policy: feasibility_rounding %d: must be at least 1 (1 = no rounding)", p.FeasibilityRounding)
	}
	if p.FeasibilityRounding > maxFeasibilityNoise || p.FeasibilityNoise > maxFeasibilityNoise {
		return protocol.Policy{}, fmt.Errorf("node: policy: feasibility_rounding and feasibility_noise are at most %d", maxFeasibilityNoise)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"dp_rho_count", p.DPRhoCount}, {"dp_rho_feasibility", p.DPRhoFeasibility}, {"dp_rho_survival", p.DPRhoSurvival}, {"dp_rho_summary", p.DPRhoSummary}, {"dp_rho_cox", p.DPRhoCox}, {"dp_rho_daily", p.DPRhoDaily}, {"dp_rho_total", p.DPRhoTotal}, {"dp_bin_days", p.DPBinDays}, {"dp_horizon_days", p.DPHorizonDays}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return protocol.Policy{}, fmt.Errorf("node: policy: %s %v: must be positive and finite", f.name, f.v)
		}
	}
	if p.DPRhoScreen < 0 || math.IsInf(p.DPRhoScreen, 0) || p.DPRhoScreen != p.DPRhoScreen {
		return protocol.Policy{}, fmt.Errorf("node: policy: dp_rho_screen %v: must be positive and finite (or left out: dp_rho_cox)", p.DPRhoScreen)
	}
	if p.DPHorizonDays/p.DPBinDays > maxDPBins {
		return protocol.Policy{}, fmt.Errorf("node: policy: dp_horizon_days/dp_bin_days is %g bins, more than %d", math.Ceil(p.DPHorizonDays/p.DPBinDays), maxDPBins)
	}
	return p, nil
}

// LoadPolicy reads a policy file; path "" gives DefaultPolicy.
func LoadPolicy(path string) (protocol.Policy, error) {
	if path == "" {
		return DefaultPolicy(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return protocol.Policy{}, fmt.Errorf("node: policy: %w", err)
	}
	return ParsePolicy(data)
}
