package node

import (
	"encoding/csv"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// lungWomen returns, for the women of lung.csv, each one's age and ECOG (the "secret"), and
// the ages held by exactly one woman (the quasi-identifier that isolates a target).
func lungWomen(t *testing.T) (ecogByAge map[float64]string, unique []float64) {
	t.Helper()
	f, err := os.Open(lungCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	n := map[float64]int{}
	ecogByAge = map[float64]string{}
	for _, r := range recs[1:] {
		if r[col["sex"]] != "female" || r[col["ecog"]] == "" {
			continue
		}
		age, _ := strconv.ParseFloat(r[col["age"]], 64)
		n[age]++
		ecogByAge[age] = r[col["ecog"]]
	}
	for age, k := range n {
		if k == 1 {
			unique = append(unique, age)
		}
	}
	slices.Sort(unique)
	return ecogByAge, unique
}

// Review classes 2 and 3 replayed against a dp analyst. Class 2 (refusals as an oracle):
// after A = the women, the attacker asks A and (age != a or ecog = h) for each ECOG level h;
// a dp analyst is never refused on the data (the overlap guard does not apply, sizes are far
// above min_cohort), so the refusal pattern is empty, and the noisy counts, which differ by
// one patient between the variants, pick the target's level hardly better than chance (4
// levels: 25%). Class 3 (three sets): S1 = the women but the target unless her level is
// ecog1, C and D = the other women with Karnofsky ≥ 80 and the rest; S1 − C − D is 1 when her level
// is ecog1 and 0 otherwise, plus noise of sd 17 (three counts at ρ = 0.005): guessed about
// as well as by always saying the commoner answer. Exact answers would give both every time.
func TestAttackClassesDP(t *testing.T) {
	oracle, differencing, trials := attackClassesDP(t, DefaultPolicy().DPRhoCount)
	// Chance is 25% for the oracle and about 50% for the three-set guess (noise of sd 17 on a
	// 0/1 signal); the bounds sit 4 binomial sd above.
	k := float64(trials)
	oracleLimit, diffLimit := 0.25*k+4*math.Sqrt(0.25*0.75*k)+1, 0.5*k+4*math.Sqrt(0.25*k)+1
	if float64(oracle) > oracleLimit {
		t.Errorf("the refusal/variant oracle found the ECOG in %d of %d trials, above %.0f", oracle, trials, oracleLimit)
	}
	if float64(differencing) > diffLimit {
		t.Errorf("three-set differencing right in %d of %d trials, above %.0f", differencing, trials, diffLimit)
	}
	// The same attacker against counts with negligible noise (ρ = 10⁴) passes both bounds:
	// the experiment does see a leak when there is one.
	oracle, differencing, _ = attackClassesDP(t, 1e4)
	if float64(oracle) <= oracleLimit || float64(differencing) <= diffLimit {
		t.Errorf("with negligible noise: oracle %d, differencing %d of %d — the bounds %.0f, %.0f would not catch a leak", oracle, differencing, trials, oracleLimit, diffLimit)
	}
}

// attackClassesDP replays classes 2 and 3 on lung's women at the given ρ per count, and
// returns how often each guessed right, of how many trials.
func attackClassesDP(t *testing.T, rho float64) (oracle, differencing, trials int) {
	pol := DefaultPolicy()
	pol.DPRhoCount = rho
	pol.DPRhoDaily, pol.DPRhoTotal = 1e12, 1e12 // let the attacker ask; the cost is what DP bounds
	l := newDPLung(t, pol, lungCSV)
	ecogByAge, targets := lungWomen(t)
	levels := []string{"ecog0", "ecog1", "ecog2", "ecog3"}
	count := func(f *protocol.Filter) (int, bool) {
		q := query(protocol.KindCount)
		q.Cohort = f
		r := handleJSON(t, l.e, sign(t, l.dora, q))
		if r.Error != nil {
			return 0, false
		}
		return r.Count.Total.N, true
	}
	women := eq("sex", "female")
	count(women)
	// Every target is attacked 5 times with fresh noise (averaging is part of the attack, paid
	// for in ρ), so that the bounds below can tell noise from exact answers.
	var ages []float64
	for r := 0; r < 5; r++ {
		ages = append(ages, targets...)
	}
	refusals := 0
	for _, age := range ages {
		best, bestN := "", -1<<30
		for _, h := range levels {
			notAge := &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{rng("age", fp(age), fp(age))}}
			n, ok := count(and(women, &protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{notAge, eq("ecog", h)}}))
			if !ok {
				refusals++
				continue
			}
			if n > bestN {
				best, bestN = h, n
			}
		}
		if best == ecogByAge[age] {
			oracle++
		}
		notAge := &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{rng("age", fp(age), fp(age))}}
		s1, _ := count(and(women, &protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{notAge, eq("ecog", "ecog1")}}))
		fit := rng("karno", fp(80), nil)
		c, _ := count(and(women, notAge, fit))
		d, _ := count(and(women, notAge, &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{fit}}))
		if guess := s1-c-d > 0; guess == (ecogByAge[age] == "ecog1") {
			differencing++
		}
	}
	t.Logf("ρ=%g, %d targets × 5: refusals %d, oracle right %d, three-set differencing right %d", rho, len(targets), refusals, oracle, differencing)
	if refusals != 0 {
		t.Errorf("%d data-dependent refusals: each is a release outside the budget", refusals)
	}
	return oracle, differencing, len(ages)
}
