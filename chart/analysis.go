package chart

import "github.com/oncofed/oncofed/analysis"

// CurveFromEstimate turns a Kaplan–Meier estimate into a figure's curve named name: its
// steps, pointwise interval, at-risk counts (so the figure derives its number-at-risk
// table), censoring times, and the median with its CI as R's print(survfit) reports it
// (TableMedian; NaN limits print as "NR").
func CurveFromEstimate(name string, e *analysis.KMEstimate) KMCurve {
	c := KMCurve{
		Name:  name,
		N:     e.N,
		Time:  append([]float64(nil), e.Time...),
		Surv:  append([]float64(nil), e.Surv...),
		Lower: append([]float64(nil), e.Lower...),
		Upper: append([]float64(nil), e.Upper...),
		NRisk: append([]int(nil), e.NRisk...),
	}
	for k, n := range e.NCensor {
		if n > 0 {
			c.CensorTimes = append(c.CensorTimes, e.Time[k])
		}
	}
	m := e.TableMedian()
	c.Median = &MedianCI{Median: m.Time, Lower: m.Lower, Upper: m.Upper}
	return c
}
