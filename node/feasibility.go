package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Feasibility counts (protocol.Query.Feasibility) are what a live cohort panel asks on every
// edit. They are approximate and not remembered, as in i2b2/SHRINE and TriNetX, but stronger:
//
//   - n = |S| below min_cohort is refused exactly as an exact count would be;
//   - otherwise the site releases round(n + noise(S), r), the nearest multiple of the rounding
//     r, where noise(S) is an integer uniform in [−k, +k]; should that fall below min_cohort
//     the answer is the same refusal, so a small answer and a small cohort look alike;
//   - noise(S) is a function of the patient set, not of the query: it is drawn from a
//     ChaCha8 stream keyed by HMAC-SHA256(site secret, study, study version, S's bitset). The
//     same set asked again, or through an equivalent filter (age ≥ 60 and not age < 60),
//     gets the same answer, so averaging repeated answers learns nothing; two sets differing
//     by one patient get independent noise, so their answers differ only by chance.
//   - the overlap guard neither checks nor records them (they cannot make the site refuse the
//     exact analysis of the final cohort), they are charged to the feasibility budget instead
//     of the daily query budget, and they are audited like every query.
//
// With r = 10 and k = 3, the answers to S and S minus one patient (whose exact counts always
// differ by one) differ with probability 0 to 25/49 depending on n mod 10, 17/70 ≈ 0.24 on
// average (TestAttackFeasibilityPairs enumerates it and measures 300 pairs): one pair tells
// little, and the feasibility budget bounds how many pairs an analyst may ask. The noise does
// not depend on the analyst either, so analysts pooling their answers average nothing away.

// feasibilityNoise returns the noise of the patient set rows of one load of a study: an
// integer uniform in [−k, +k] (k = 0: none), the same for the same set and key.
func feasibilityNoise(key []byte, study string, version int64, rows bitset, k int) int {
	if k <= 0 {
		return 0
	}
	mac := hmac.New(sha256.New, key)
	var buf [8]byte
	// Length-prefixed, so that no (study, version, set) serialises like another.
	binary.LittleEndian.PutUint64(buf[:], uint64(len(study)))
	mac.Write(buf[:])
	mac.Write([]byte(study))
	binary.LittleEndian.PutUint64(buf[:], uint64(version))
	mac.Write(buf[:])
	for _, w := range rows {
		binary.LittleEndian.PutUint64(buf[:], w)
		mac.Write(buf[:])
	}
	var seed [32]byte
	copy(seed[:], mac.Sum(nil))
	// IntN is unbiased (it rejects the uneven tail), unlike a bare modulo of the digest.
	return rand.New(rand.NewChaCha8(seed)).IntN(2*k+1) - k
}

// roundToMultiple rounds x to the nearest multiple of r ≥ 1, a half up (15 → 20 with r = 10);
// x ≤ 0 (possible only with min_cohort 0) gives 0.
func roundToMultiple(x, r int) int {
	if x <= 0 {
		return 0
	}
	return (x + r/2) / r * r
}

// errSmallCohort is the refusal of a cohort below min_cohort. Exact and feasibility counts
// share it word for word, so that the refusal of a feasibility answer rounded below
// min_cohort cannot be told from that of a small cohort.
func errSmallCohort(minCohort int) error {
	return errorf(protocol.CodeRefusedByPolicy, "cohort has fewer than min_cohort=%d patients", minCohort)
}

// feasibilityCount answers a feasibility count of c (n ≥ min_cohort, checked by compute).
// Its answer carries no patient set: the overlap guard neither checks nor records it.
func (e *Engine) feasibilityCount(ctx context.Context, c *cohort, reply *protocol.Reply) (answer, error) {
	key, err := e.siteSecret(ctx)
	if err != nil {
		return answer{}, errorf(protocol.CodeInternal, "feasibility noise unavailable")
	}
	r, k := e.policy.FeasibilityRounding, e.policy.FeasibilityNoise
	noise := feasibilityNoise(key, c.study.data.Name, c.study.info.Version, c.rows, k)
	released := roundToMultiple(c.n+noise, r)
	if released < e.policy.MinCohort {
		return answer{}, errSmallCohort(e.policy.MinCohort)
	}
	reply.Count = &protocol.CountReply{Total: protocol.Count{N: released}}
	reply.Policy.FeasibilityRounding, reply.Policy.FeasibilityNoise = r, k
	// The audit log keeps the true size and what left; the noise follows from them, the key
	// never appears.
	return answer{released: fmt.Sprintf("feasibility count n=%d released=%d", c.n, released)}, nil
}

// siteSecret returns the store's secret key, read once per engine.
func (e *Engine) siteSecret(ctx context.Context) ([]byte, error) {
	e.secretMu.Lock()
	defer e.secretMu.Unlock()
	if e.secret != nil {
		return e.secret, nil
	}
	key, err := e.store.SiteSecret(ctx)
	if err != nil {
		return nil, err
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("node: site secret of %d bytes", len(key))
	}
	e.secret = key
	return key, nil
}

// checkFeasibilityBudget refuses once the analyst has used the daily feasibility budget (UTC
// day), counted within tx.
func (e *Engine) checkFeasibilityBudget(ctx context.Context, tx ReleaseTx, analyst string) error {
	now := e.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	n, err := tx.CountFeasibility(ctx, day)
	if err != nil {
		return errorf(protocol.CodeInternal, "feasibility budget unavailable")
	}
	if n >= e.policy.FeasibilityBudget {
		return errorf(protocol.CodeRefusedByPolicy, "daily feasibility budget of %d counts used up for analyst %q", e.policy.FeasibilityBudget, clip(analyst))
	}
	return nil
}
