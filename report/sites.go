package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/oncofed/oncofed/app"
)

// Part is one result of a run with the words that name it ("the Kaplan–Meier curves",
// "Table 1").
type Part struct {
	Name   string
	Result *app.Result
}

// SitesDiffer says plainly when the results of one run come from different sets of sites — a
// site answered one query and refused, or missed, another — and why: "Not the same sites:
// Table 1 is from 4 of 6 sites, the Kaplan–Meier curves from 5; harbor-general is in the
// Kaplan–Meier curves only (Table 1: refused: …)." It is empty when every part has the same
// answering sites (or fewer than two parts have results).
func SitesDiffer(parts ...Part) string {
	var ps []Part
	for _, p := range parts {
		if p.Result != nil {
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 {
		return ""
	}
	all := map[string]bool{}
	same := true
	for _, p := range ps {
		for _, s := range p.Result.Provenance.Answered {
			all[s] = true
		}
		same = same && sameSites(p.Result.Provenance.Answered, ps[0].Result.Provenance.Answered)
	}
	if same {
		return ""
	}
	var sizes []string
	for i, p := range ps {
		n := fmt.Sprintf("%d", len(p.Result.Provenance.Answered))
		if i == 0 {
			n += fmt.Sprintf(" of %d sites", len(p.Result.Provenance.Expected))
			sizes = append(sizes, p.Name+" is from "+n)
			continue
		}
		sizes = append(sizes, p.Name+" from "+n)
	}
	var sites []string
	for _, s := range sortedSet(all) {
		var in, why []string
		for _, p := range ps {
			if slices.Contains(p.Result.Provenance.Answered, s) {
				in = append(in, p.Name)
			} else {
				why = append(why, p.Name+": "+absence(&p.Result.Provenance, s))
			}
		}
		if len(why) > 0 {
			sites = append(sites, fmt.Sprintf("%s is in %s only (%s)", s, strings.Join(in, " and "), strings.Join(why, "; ")))
		}
	}
	return "Not the same sites: " + strings.Join(sizes, ", ") + "; " + strings.Join(sites, "; ") + "."
}

// absence says why site is not among p's answering sites.
func absence(p *app.Provenance, site string) string {
	for _, x := range p.Refused {
		if x.Site == site {
			return withMessage("refused", x.Message)
		}
	}
	for _, x := range p.Invalid {
		if x.Site == site {
			return withMessage("invalid reply", x.Message)
		}
	}
	if slices.Contains(p.Missing, site) {
		return "no answer"
	}
	return "not asked"
}

func sameSites(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
