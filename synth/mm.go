package synth

import (
	"math"
	"math/rand/v2"
)

// Multiple myeloma variable indexes.
const (
	mmAge = iota
	mmSex
	mmISS
	mmLDH
	mmDel17p
	mmT414
	mmT1416
	mmGain1q
	mmFISHRisk
	mmRISS
	mmECOG
	mmTransplant
	mmTreatment
	mmYear
)

// Multiple myeloma levels.
const (
	yes, no                               = 0, 1
	ldhNormal, ldhHigh                    = 0, 1
	riskHigh, riskStandard                = 0, 1
	mmVRdASCT, mmVRd, mmDRd, mmRd, mmDVMP = 0, 1, 2, 3, 4
)

func mmModel() *model {
	m := &model{
		schema: &Schema{Study: MM, Title: "Newly diagnosed multiple myeloma (synthetic)", Variables: []Variable{
			num("age", "years", "age at diagnosis", 18, 100),
			cat("sex", "sex", "female", "male"),
			cat("iss", "International Staging System", "I", "II", "III"),
			cat("ldh", "serum LDH", "normal", "high"),
			cat("del17p", "del(17p) by FISH", "yes", "no"),
			cat("t4_14", "t(4;14) by FISH", "yes", "no"),
			cat("t14_16", "t(14;16) by FISH", "yes", "no"),
			cat("gain1q", "1q gain or amplification by FISH", "yes", "no"),
			cat("fish_risk", "cytogenetic risk: high = del(17p), t(4;14) or t(14;16)", "high", "standard"),
			cat("r_iss", "Revised ISS (Palumbo JCO 2015)", "I", "II", "III"),
			whole("ecog", "points", "ECOG performance status at diagnosis", 0, 5),
			cat("transplant", "autologous stem-cell transplant in first line", "yes", "no"),
			cat("treatment", "first-line regimen", "VRd-ASCT", "VRd", "D-Rd", "Rd", "D-VMP"),
			dxYear,
		}},
		// maxECOG: MAIA, ALCYONE and IFM 2009 enrolled ECOG 0–2.
		// PFS shapes and the transplant-era OS shape are an ASSUMPTION (k 1.2–1.3).
		arms: []arm{
			// IFM 2009: PFS 50 vs 36 months with vs without transplant, OS ≈ equal, 4-year OS
			// ≈81 vs 82% (Attal NEJM 2017). Weibull k 1.3 through S(48) = 0.81 gives a median
			// of ≈120 months (derived, ASSUMPTION shape).
			{key: "VRd-ASCT", osMedian: 120, osShape: 1.3, pfsMedian: 50, pfsShape: 1.2, maxECOG: 2},
			{key: "VRd", osMedian: 120, osShape: 1.3, pfsMedian: 36, pfsShape: 1.2, maxECOG: 2},
			// MAIA (transplant-ineligible): ≈ final OS 90.3 vs 64.1 months, k 1.28 / 1.37
			// (SYNTH.md §5; Facon 2025); PFS 61.9 vs 34.4 (64.5-month update, Facon 2024; ≈
			// from secondary summaries, consistent with the 5-year PFS 52.5 vs 29%).
			{key: "D-Rd", osMedian: 90.3, osShape: 1.28, pfsMedian: 61.9, pfsShape: 1.2, maxECOG: 2},
			{key: "Rd", osMedian: 64.1, osShape: 1.37, pfsMedian: 34.4, pfsShape: 1.2, maxECOG: 2},
			// ALCYONE: D-VMP OS 83.0, PFS 36.4 months (Mateos Lancet 2020; Lancet Oncol 2025).
			{key: "D-VMP", osMedian: 83.0, osShape: 1.3, pfsMedian: 36.4, pfsShape: 1.2, maxECOG: 2},
		},
		// Hospital volume Q1/Q2/Q3 vs Q4: HR 1.22/1.17/1.12 (Go JCO 2017).
		volumeHR:    [4]float64{1.22, 1.17, 1.12, 1},
		communityHR: 1,
		// MAIA median follow-up 56 months: A 36, F 48 (ASSUMPTION, SYNTH.md §5).
		accrual: 36, minFollowUp: 48, dropout: 0.03,
		rho: 0.6,
		// PFS ends in progression or in death before it: the latent times already say which
		// (PFS = min(progression, death), sampleLatent), so the split adds no parameter.
		pfsCauses: PFSCauses,
		// Modelled on Connect MM, the US registry of newly diagnosed myeloma (NCT01081028):
		// enrolment within 60 days of diagnosis (UNVERIFIED window; synth/SOURCES.md).
		registryEntryDays: 60,
	}
	// ISS median OS 62 / 44 / 29 months (Greipp JCO 2005) → HR 62/44 = 1.41 and 62/29 =
	// 2.14 under exponential survival.
	issHR := []float64{0, math.Log(62.0 / 44), math.Log(62.0 / 29)}
	// Cytogenetic OS HRs: del(17p) 1.78, t(4;14) 1.67, t(14;16) 1.19 (HARMONY); +1q 1.5
	// (Mayo 2020). High LDH: ASSUMPTION 1.5. ECOG per point: ASSUMPTION 1.3. Age: NCCTG 1.011/yr.
	var (
		logHRDel17p = math.Log(1.78)
		logHRT414   = math.Log(1.67)
		logHRT1416  = math.Log(1.19)
		logHR1q     = math.Log(1.5)
		logHRLDH    = math.Log(1.5)
		logHREcogMM = math.Log(1.3)
	)

	m.draw = func(r *rand.Rand, s *Site, p *patient) {
		v := p.v
		// Median age 69 (SEER); 54.7% male (NCDB, Go JCO 2017).
		v[mmAge] = normalTrunc(r, 69, 10, 30, 95)
		v[mmSex] = bern(r, 0.547)
		// ISS I/II/III 35/40/25% (HARMONY, D'Agostino ASH 2019).
		iss := pick(r, 0.35, 0.40, 0.25)
		v[mmISS] = iss
		// High LDH: ASSUMPTION 11% overall, more often with a high tumour burden: 5 / 10 /
		// 20% in ISS I / II / III (without it R-ISS I would fall to ≈22%, below Palumbo's
		// 28%); missing 5%.
		ldh := bern(r, []float64{0.05, 0.10, 0.20}[int(iss)])
		v[mmLDH] = missing(r, 0.05, ldh)
		// FISH: del(17p) 10.5%, t(4;14) 12%, t(14;16) 4% (Fonseca Blood 2003, E9486; t(4;14)
		// and t(14;16) are exclusive translocations); 1q gain 28% (Mayo, Blood Adv 2020).
		d17 := r.Float64() < 0.105
		tr := pick(r, 0.12, 0.04, 0.84) // t(4;14), t(14;16), neither
		q1 := r.Float64() < 0.28
		highRisk := d17 || !is(tr, 2)
		fish := r.Float64() < s.Testing
		if fish {
			v[mmDel17p], v[mmT414], v[mmT1416], v[mmGain1q] = yn(d17), yn(is(tr, 0)), yn(is(tr, 1)), yn(q1)
			v[mmFISHRisk] = riskStandard
			if highRisk {
				v[mmFISHRisk] = riskHigh
			}
		} else {
			for _, j := range []int{mmDel17p, mmT414, mmT1416, mmGain1q, mmFISHRisk} {
				v[j] = math.NaN()
			}
		}
		// R-ISS (Palumbo 2015): I = ISS I, standard-risk FISH and normal LDH; III = ISS III
		// with high-risk FISH or high LDH; II otherwise. Unknown when an input is missing
		// and the others do not settle it.
		v[mmRISS] = rISS(iss, v[mmFISHRisk], v[mmLDH])
		// ECOG: ASSUMPTION 30/50/20%.
		ecog := pick(r, 0.30, 0.50, 0.20)
		v[mmECOG] = missing(r, 0.03, ecog)
		p.ecog = ecog
		// Transplant-eligible: age <70 and ECOG ≤1 (ASSUMPTION); 80% of them get ASCT.
		// Ineligible: D-Rd 55%, Rd 30%, D-VMP 15% (ASSUMPTION).
		if v[mmAge] < 70 && ecog <= 1 {
			if r.Float64() < 0.8 {
				v[mmTreatment], v[mmTransplant] = mmVRdASCT, yes
			} else {
				v[mmTreatment], v[mmTransplant] = mmVRd, no
			}
		} else {
			v[mmTransplant] = no
			v[mmTreatment] = []float64{mmDRd, mmRd, mmDVMP}[int(pick(r, 0.55, 0.30, 0.15))]
		}
		p.arm = int(v[mmTreatment]) // arms are in treatment-level order
		eta := issHR[int(iss)] + logHREcogMM*ecog + logHRAge*(v[mmAge]-69)
		if d17 {
			eta += logHRDel17p
		}
		if is(tr, 0) {
			eta += logHRT414
		}
		if is(tr, 1) {
			eta += logHRT1416
		}
		if q1 {
			eta += logHR1q
		}
		if ldh == 1 {
			eta += logHRLDH
		}
		p.etaOS, p.etaPFS = eta, eta
	}
	return m
}

func yn(b bool) float64 {
	if b {
		return yes
	}
	return no
}

func rISS(iss, fishRisk, ldh float64) float64 {
	high := is(fishRisk, riskHigh) || is(ldh, ldhHigh)
	known := !math.IsNaN(fishRisk) && !math.IsNaN(ldh)
	switch {
	case is(iss, 1):
		return 1
	case high && is(iss, 2):
		return 2
	case high:
		return 1
	case known && is(iss, 0):
		return 0
	case known:
		return 1
	}
	return math.NaN()
}
