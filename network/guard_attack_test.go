package network_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// The empty-combination oracle (node.TestAttackGuardEmptyCombinationOracle) played over a real
// hub against the 18 lung sites with the default policy, each analyst a signed trusted key, as
// a client built on network would: for a patient x of a site whose age a is unique there, the
// attacker gets counts of age < a and age > a, then asks (age ≠ a or ecog ≠ h) for each ECOG
// grade h. At x's site that set is the union of the first two exactly when x's grade is h; the
// guard used to answer that variant alone (an empty remainder) and refuse the others (x). Now
// every variant is refused at x's site, with one reason, and the honest third query (age ≠ a)
// is answered.
func TestEmptyCombinationOracleOverHub(t *testing.T) {
	ctx := context.Background()
	pol := node.DefaultPolicy()
	header, bySite := lungtest.BySite(t, false)
	col := func(name string) int { return lungtest.Column(t, header, name) }
	ageCol, ecogCol := col("age"), col("ecog")
	type target struct {
		site string
		age  float64
		ecog string
	}
	var targets []target
	for site, rows := range bySite {
		count := map[float64]int{}
		var ages []float64
		for _, r := range rows {
			a, _ := strconv.ParseFloat(r[ageCol], 64)
			count[a]++
			ages = append(ages, a)
		}
		for _, r := range rows {
			a, _ := strconv.ParseFloat(r[ageCol], 64)
			below, above := 0, 0
			for _, b := range ages {
				if b < a {
					below++
				} else if b > a {
					above++
				}
			}
			if count[a] == 1 && r[ecogCol] != "" && below >= pol.MinCohort && above >= pol.MinCohort {
				targets = append(targets, target{site, a, r[ecogCol]})
			}
		}
	}
	if len(targets) < 5 {
		t.Fatalf("only %d targets", len(targets))
	}
	var lines strings.Builder
	signers := make([]*protocol.Signer, len(targets))
	for k := range targets {
		signers[k] = protocol.NewSigner(testAnalystKey(byte(20+k)), nil)
		fmt.Fprintf(&lines, "eve%d %s trusted\n", k, signers[k].PublicKey())
	}
	analysts, err := node.ParseAnalysts(strings.NewReader(lines.String()))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	serveLungWith(t, hub.URL(), pol, analysts)
	ageIs := func(a float64) *protocol.Filter {
		return &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: &a, Max: &a}
	}
	not := func(f *protocol.Filter) *protocol.Filter {
		return &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{f}}
	}
	grades := []string{"ecog0", "ecog1", "ecog2", "ecog3"}
	recovered, refusedAll := 0, 0
	for k, x := range targets {
		c := dial(t, hub.URL(), network.WithSigner(signers[k]))
		// atSite asks f and returns x's site's answer: nil when it answered, else its refusal.
		atSite := func(f *protocol.Filter) *protocol.Error {
			g, err := c.Query(ctx, protocol.Query{Kind: protocol.KindCount, Study: "lung", Cohort: f})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range g.Replies {
				if r.Site == x.site {
					return nil
				}
			}
			for _, p := range g.Refused {
				if p.Site == x.site {
					return &protocol.Error{Code: p.Code, Message: p.Message, Reason: p.Reason}
				}
			}
			t.Fatalf("%s did not answer", x.site)
			return nil
		}
		a := x.age
		for _, f := range []*protocol.Filter{
			{Op: protocol.OpRange, Var: "age", Max: &a, MaxOpen: true},
			{Op: protocol.OpRange, Var: "age", Min: &a, MinOpen: true},
		} {
			if e := atSite(f); e != nil {
				t.Fatalf("target %d: setup refused: %v", k, e)
			}
		}
		var answered []string
		for _, h := range grades {
			variant := &protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{not(ageIs(a)), not(&protocol.Filter{Op: protocol.OpEq, Var: "ecog", Value: h})}}
			e := atSite(variant)
			if e == nil {
				answered = append(answered, h)
				break
			}
			if e.Reason != protocol.ReasonOverlapGuard {
				t.Fatalf("target %d: variant %s refused for another reason: %v", k, h, e)
			}
		}
		switch {
		case len(answered) == 1 && answered[0] == x.ecog:
			recovered++
		case len(answered) == 0:
			refusedAll++
		}
		if e := atSite(not(ageIs(a))); e != nil {
			t.Errorf("target %d: the honest completion refused: %v", k, e)
		}
	}
	t.Logf("%d of %d targets' ECOG grade recovered over the hub; every variant refused for %d", recovered, len(targets), refusedAll)
	if recovered != 0 || refusedAll != len(targets) {
		t.Errorf("%d of %d recovered, %d refused every variant", recovered, len(targets), refusedAll)
	}
}
