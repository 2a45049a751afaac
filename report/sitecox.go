package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report/format"
)

// The per-site view of a Cox model (app.Service.SiteCox): each site's own hazard ratio and their
// heterogeneity, as the desktop's Cox tab and `oncofed-cli cox --per-site` show them.

// HeterogeneityLine is the per-site view's summary: the pooled HR of the chosen model (random
// effects, DerSimonian–Laird, or fixed effect), I², τ², Cochran's Q and its p-value, and which
// sites were left out and why. dp says the sites' estimates come from differentially private
// tables, whose noise their standard errors include.
func HeterogeneityLine(h app.Heterogeneity, random, dp bool) string {
	p, model := h.Fixed, "fixed effect"
	if random {
		p, model = h.Random, "random effects (DerSimonian–Laird)"
	}
	s := fmt.Sprintf("%d sites pooled, %s: HR %s · I² = %.0f%%, τ² = %.3g, Q = %.2f on %d df (%s)",
		len(h.Sites), model, chart.FormatHR(math.Exp(p.Estimate), math.Exp(p.Lower), math.Exp(p.Upper)),
		h.I2, h.Tau2, h.Q, h.DF, format.PValue(h.QP))
	if dp {
		s += "\nEach site fitted on its differentially private tables; its standard error includes the release's noise (√(SE² + noise SD²))."
	}
	if len(h.Excluded) > 0 {
		var out []string
		for _, e := range h.Excluded {
			out = append(out, e.Site+" ("+e.Reason+")")
		}
		s += "\nNot pooled: " + strings.Join(out, "; ") + "."
	}
	return s
}
