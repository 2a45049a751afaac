package dp

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func competingFixture() CompetingTable {
	return CompetingTable{
		Events: [][]int64{
			{3, 5, 2, 4, 1, 0, 2, 1},
			{1, 0, 2, 1, 3, 2, 0, 1},
		},
		Censored: []int64{2, 1, 0, 3, 2, 4, 1, 6},
	}
}

// One cause is the Kaplan–Meier release itself: same noise, same consistency step.
func TestReleaseCompetingOneCauseIsReleaseSurvival(t *testing.T) {
	tab := competingFixture()
	km := SurvivalTable{Events: tab.Events[0], Censored: tab.Censored}
	rho := big.NewRat(1, 10)
	a, na, err := ReleaseSurvival(NewSampler(rand.NewChaCha8([32]byte{9})), km, rho, SurvivalSqrt)
	if err != nil {
		t.Fatal(err)
	}
	b, nb, err := ReleaseCompeting(NewSampler(rand.NewChaCha8([32]byte{9})), CompetingTable{Events: [][]int64{km.Events}, Censored: km.Censored}, rho, SurvivalSqrt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Events, b.Events[0]) || !slices.Equal(a.Censored, b.Censored) || na.Rho.Cmp(nb.Rho) != 0 {
		t.Fatalf("KM %v, competing %v", a, b)
	}
}

// The whole release costs one ρ (the KM's), whatever the number of causes: the noise scale
// and spent ρ equal those of a KM release of the same bins.
func TestReleaseCompetingCostsOneRho(t *testing.T) {
	tab := competingFixture()
	rho := big.NewRat(1, 20)
	_, nk, err := ReleaseSurvival(NewSampler(rand.NewChaCha8([32]byte{1})), tab.AllCauses(), rho, SurvivalSqrt)
	if err != nil {
		t.Fatal(err)
	}
	_, nc, err := ReleaseCompeting(NewSampler(rand.NewChaCha8([32]byte{1})), tab, rho, SurvivalSqrt)
	if err != nil {
		t.Fatal(err)
	}
	if nc.Rho.Cmp(rho) > 0 || nc.Rho.Cmp(nk.Rho) != 0 || nc.Sigma2.Cmp(nk.Sigma2) != 0 {
		t.Fatalf("competing ρ %v σ² %v, KM ρ %v σ² %v", nc.Rho, nc.Sigma2, nk.Rho, nk.Sigma2)
	}
}

// Sensitivity: neighbouring tables (one patient moved in or out, any cell of any column) differ
// by one in one cell, which is what the KM's Δ² assumes.
func TestCompetingSensitivityOneCell(t *testing.T) {
	tab := competingFixture()
	for j := range tab.Events {
		for i := range tab.Len() {
			nb := CompetingTable{Events: [][]int64{slices.Clone(tab.Events[0]), slices.Clone(tab.Events[1])}, Censored: tab.Censored}
			nb.Events[j][i]++
			diff := 0
			for k, col := range nb.columns() {
				for b := range col {
					diff += int(math.Abs(float64(col[b] - tab.columns()[k][b])))
				}
			}
			if diff != 1 {
				t.Fatalf("cause %d bin %d: L1 change %d", j, i, diff)
			}
		}
	}
}

func TestReleaseCompetingConsistentAndSizeUnbiased(t *testing.T) {
	tab := competingFixture()
	n := tab.AllCauses().AtRisk()[0]
	rng := rand.New(rand.NewPCG(1, 2))
	const reps = 3000
	var sum float64
	for range reps {
		r, err := SimulateCompeting(rng, tab, big.NewRat(1, 2), SurvivalSqrt)
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range r.columns() {
			for _, v := range col {
				if v < 0 {
					t.Fatalf("negative cell in %v", r)
				}
			}
		}
		at := r.AllCauses().AtRisk()
		for i := 1; i < len(at); i++ {
			if at[i] > at[i-1] {
				t.Fatalf("at risk increases: %v", at)
			}
		}
		sum += float64(at[0])
	}
	// Size SD at ρ = 1/2 with three columns is about 3; the mean of 3000 is within 0.2 of n.
	if mean := sum / reps; math.Abs(mean-float64(n)) > 0.3 {
		t.Fatalf("mean released size %.2f, true %d", mean, n)
	}
}

func TestReleaseCompetingRefusesBadTables(t *testing.T) {
	s := NewSampler(rand.NewChaCha8([32]byte{}))
	for _, bad := range []CompetingTable{
		{Censored: []int64{1}},
		{Events: [][]int64{{1, 2}}, Censored: []int64{1}},
		{Events: [][]int64{{-1}}, Censored: []int64{1}},
	} {
		if _, _, err := ReleaseCompeting(s, bad, big.NewRat(1, 1), SurvivalSqrt); err == nil {
			t.Errorf("%v released", bad)
		}
	}
}

// Membership inference: the attacker knows every patient but the target and whether the
// target, if present, had cause 2 in bin 5; it guesses "in" when the released cause-2 total
// exceeds the known rest by more than one half. Its empirical advantage over 1000 trials each
// way must stay within the bound ρ-zCDP implies (Pinsker: TV ≤ √(ρ/2)), plus three standard
// errors; at a large ρ the same attack must succeed, so the test can fail.
func TestCompetingMembershipInference(t *testing.T) {
	out := competingFixture()
	in := CompetingTable{Events: [][]int64{slices.Clone(out.Events[0]), slices.Clone(out.Events[1])}, Censored: out.Censored}
	in.Events[1][4]++
	var base int64
	for _, v := range out.Events[1] {
		base += v
	}
	adv := func(rho *big.Rat, seed byte, trials int) float64 {
		s := NewSampler(rand.NewChaCha8([32]byte{seed}))
		hits := 0
		for _, pair := range []struct {
			tab CompetingTable
			yes bool
		}{{in, true}, {out, false}} {
			for range trials {
				r, _, err := ReleaseCompeting(s, pair.tab, rho, SurvivalSqrt)
				if err != nil {
					t.Fatal(err)
				}
				var tot int64
				for _, v := range r.Events[1] {
					tot += v
				}
				if (float64(tot-base) > 0.5) == pair.yes {
					hits++
				}
			}
		}
		return 2*float64(hits)/float64(2*trials) - 1
	}
	const trials = 1000
	rho := big.NewRat(1, 10)
	bound := math.Sqrt(0.1 / 2)
	se := 1 / math.Sqrt(trials)
	a := adv(rho, 3, trials)
	t.Logf("ρ = 0.1: advantage %.3f, bound %.3f", a, bound)
	if a > bound+3*se {
		t.Fatalf("advantage %.3f beyond the ρ-zCDP bound %.3f", a, bound)
	}
	if hi := adv(big.NewRat(200, 1), 4, 100); hi < 0.8 {
		t.Fatalf("attack at ρ = 200 only %.3f: the test cannot fail", hi)
	}
}

// Membership inference on a Kaplan–Meier release (all causes as one event column) and a
// competing-risks release of the same cohort, each at ρ = 0.1, as a dp analyst gets them from a
// km and a cif query: the attacker adds the shift of the KM's event total and of the cause-2
// total over the known rest (each moves by one when the target is in) and guesses "in" above
// one. Composition bounds the pair by ρ = 0.2 (Pinsker: TV ≤ √(ρ/2) = 0.316); the empirical
// advantage over 1000 trials each way must stay within it, plus three standard errors. At a
// large ρ the same attack succeeds, so the test can fail.
func TestKMAndCompetingCombinedMembership(t *testing.T) {
	out := competingFixture()
	in := CompetingTable{Events: [][]int64{slices.Clone(out.Events[0]), slices.Clone(out.Events[1])}, Censored: out.Censored}
	in.Events[1][4]++
	total := func(col []int64) (n int64) {
		for _, v := range col {
			n += v
		}
		return n
	}
	baseKM, baseCause := total(out.AllCauses().Events), total(out.Events[1])
	adv := func(rho *big.Rat, seed byte, trials int) (combined, kmOnly float64) {
		s := NewSampler(rand.NewChaCha8([32]byte{seed}))
		hits, kmHits := 0, 0
		for _, pair := range []struct {
			tab CompetingTable
			yes bool
		}{{in, true}, {out, false}} {
			for range trials {
				km, _, err := ReleaseSurvival(s, pair.tab.AllCauses(), rho, SurvivalSqrt)
				if err != nil {
					t.Fatal(err)
				}
				cr, _, err := ReleaseCompeting(s, pair.tab, rho, SurvivalSqrt)
				if err != nil {
					t.Fatal(err)
				}
				dk := float64(total(km.Events) - baseKM)
				if (dk+float64(total(cr.Events[1])-baseCause) > 1) == pair.yes {
					hits++
				}
				if (dk > 0.5) == pair.yes {
					kmHits++
				}
			}
		}
		n := float64(2 * trials)
		return 2*float64(hits)/n - 1, 2*float64(kmHits)/n - 1
	}
	const trials = 1000
	bound := math.Sqrt(0.2 / 2)
	se := 1 / math.Sqrt(trials)
	a, single := adv(big.NewRat(1, 10), 5, trials)
	t.Logf("KM + CIF at ρ = 0.1 each: advantage %.3f (KM alone %.3f), bound of ρ = 0.2: %.3f", a, single, bound)
	if a > bound+3*se {
		t.Fatalf("advantage %.3f beyond the bound %.3f of the total ρ", a, bound)
	}
	if hi, _ := adv(big.NewRat(200, 1), 6, 100); hi < 0.8 {
		t.Fatalf("attack at ρ = 200 only %.3f: the test cannot fail", hi)
	}
}
