package synth

import (
	"math"
	"math/rand/v2"
)

// TNBC variable indexes.
const (
	tnAge = iota
	tnSex
	tnStage
	tnECOG
	tnBRCA
	tnCPS
	tnPCR
	tnTreatment
	tnYear
)

// TNBC treatment levels.
const (
	tnPembroChemo, tnChemo, tnOlaparib = 0, 1, 2
)

func tnbcModel() *model {
	m := &model{
		schema: &Schema{Study: TNBC, Title: "Triple-negative breast cancer, early and metastatic (synthetic)", Variables: []Variable{
			num("age", "years", "age at diagnosis", 18, 100),
			cat("sex", "sex", "female", "male"),
			cat("stage", "AJCC stage at diagnosis", "I", "II", "III", "IV"),
			whole("ecog", "points", "ECOG performance status at start of treatment", 0, 5),
			cat("brca", "germline BRCA status", "gBRCA1", "gBRCA2", "negative"),
			cat("pdl1_cps", "PD-L1 combined positive score", "<1", "1-9", ">=10"),
			cat("pcr", "pathological complete response after neoadjuvant therapy (stage II–III)", "yes", "no"),
			cat("treatment", "first-line (neoadjuvant or metastatic) regimen", "pembro-chemo", "chemo", "olaparib"),
			dxYear,
		}},
		arms: []arm{
			// Early disease: mixture-cure event-free survival stratified by pCR (SYNTH.md §5).
			// The uncured have an EFS event with a Weibull median of 20 months, k 1.2
			// (ASSUMPTION: most TNBC recurrences occur within three years). Survival after the
			// event: median 26 months, k 1.0 (ASSUMPTION, tuned so that 5-year OS comes out
			// near KEYNOTE-522's 86.6 vs 81.7%): longer than de novo metastatic disease (13.3,
			// Kassam 2009) because EFS events include salvageable locoregional recurrences.
			// Cure fractions are set per patient in draw.
			{key: "early-pembro-chemo", cured: true, pfsMedian: 20, pfsShape: 1.2, osMedian: 26, osShape: 1.0},
			{key: "early-chemo", cured: true, pfsMedian: 20, pfsShape: 1.2, osMedian: 26, osShape: 1.0},
			// Metastatic, calibrated to the published medians; shapes are an ASSUMPTION.
			// KEYNOTE-355 and OlympiAD enrolled ECOG 0–1; the real-world chemotherapy series all.
			// KEYNOTE-355, CPS ≥10: OS 23.0, PFS 9.7 (Cortes NEJM 2022; Lancet 2020).
			{key: "met-pembro-chemo", osMedian: 23.0, osShape: 0.9, pfsMedian: 9.7, pfsShape: 1.0, maxECOG: 1},
			// Chemotherapy: real-world OS 13.3 (Kassam 2009); PFS 5.6 (KEYNOTE-355 control).
			{key: "met-chemo", osMedian: 13.3, osShape: 1.2, pfsMedian: 5.6, pfsShape: 1.2, maxECOG: 2},
			// OlympiAD, gBRCA: OS 19.3, PFS 8.0 (investigator, final) (Robson NEJM 2017; Senkus IJC 2023).
			{key: "met-olaparib", osMedian: 19.3, osShape: 1.2, pfsMedian: 8.0, pfsShape: 1.2, maxECOG: 1},
		},
		// No published volume effect for TNBC: the site frailty alone (ASSUMPTION).
		volumeHR:    [4]float64{1, 1, 1, 1},
		communityHR: 1,
		// Between KEYNOTE-355 (44 months) and KEYNOTE-522 (75 months) median follow-up: A 36,
		// F 48 (ASSUMPTION, SYNTH.md §5).
		accrual: 36, minFollowUp: 48, dropout: 0.03,
		rho: 0.6,
	}
	earlyPembro, earlyChemo := m.armIndex("early-pembro-chemo"), m.armIndex("early-chemo")
	metPembro, metChemo, metOla := m.armIndex("met-pembro-chemo"), m.armIndex("met-chemo"), m.armIndex("met-olaparib")

	m.draw = func(r *rand.Rand, s *Site, p *patient) {
		v := p.v
		// ≈100% female (Kassam 2009); men: ASSUMPTION 0.5%.
		v[tnSex] = bern(r, 0.005)
		// Stage: ASSUMPTION I 35 / II 40 / III 17 / IV 8% (SYNTH.md; II 47, III 28% in a US
		// series of 448, PMC4912515).
		stage := pick(r, 0.35, 0.40, 0.17, 0.08)
		v[tnStage] = stage
		metastatic := is(stage, 3)
		// gBRCA1 8.5%, gBRCA2 2.7% (Couch JCO 2015); tested at the site's testing rate.
		brca := pick(r, 0.085, 0.027, 0.888)
		v[tnBRCA] = brca
		if r.Float64() >= s.Testing {
			v[tnBRCA] = math.NaN()
		}
		carrier := !is(brca, 2) && !math.IsNaN(v[tnBRCA])
		// Age: unselected mean 58 (Wong-Brown BCRT 2015), metastatic median 51 (Kassam
		// 2009); carriers are younger (ASSUMPTION −8 years).
		mean := 58.0
		if metastatic {
			mean = 52
		}
		if !is(brca, 2) {
			mean -= 8
		}
		v[tnAge] = normalTrunc(r, mean, 12, 22, 95)
		// ECOG: ASSUMPTION early 0/1/2 = 75/22/3%, metastatic 50/40/10%.
		var ecog float64
		if metastatic {
			ecog = pick(r, 0.50, 0.40, 0.10)
		} else {
			ecog = pick(r, 0.75, 0.22, 0.03)
		}
		v[tnECOG] = missing(r, 0.03, ecog)
		p.ecog = ecog
		// PD-L1 CPS ≥10 in 38% (323/847, KEYNOTE-355), ≥1 in ≈75% (ASSUMPTION from
		// KEYNOTE-355's CPS ≥1 population). Tested in metastatic disease at the site's
		// rate, in early disease rarely (ASSUMPTION 30%: not needed for KEYNOTE-522).
		cps := pick(r, 0.25, 0.37, 0.38)
		test := s.Testing
		if !metastatic {
			test = 0.3
		}
		v[tnCPS] = cps
		if r.Float64() >= test {
			v[tnCPS] = math.NaN()
		}
		v[tnPCR] = math.NaN()
		eta := logHREcog * ecog // NCCTG lung ECOG effect (ASSUMPTION for TNBC)
		switch {
		case metastatic:
			switch {
			case is(v[tnCPS], 2) && r.Float64() < 0.85:
				p.arm, v[tnTreatment] = metPembro, tnPembroChemo
			case carrier && r.Float64() < 0.6:
				p.arm, v[tnTreatment] = metOla, tnOlaparib
			default:
				p.arm, v[tnTreatment] = metChemo, tnChemo
			}
		case is(stage, 0):
			// Stage I: adjuvant chemotherapy, cured in 88% (ASSUMPTION, below SEER's 91.8%
			// 5-year relative survival for localized disease).
			p.arm, v[tnTreatment] = earlyChemo, tnChemo
			p.cure = 0.88
		default:
			// Stage II–III, KEYNOTE-522: pCR 64.8% with pembrolizumab vs 51.2% (Schmid NEJM
			// 2020). 7-year EFS by pCR ≈90 vs 86% and, without pCR, 58 vs 50% (ESMO 2025, ≈),
			// used as cure fractions: this reproduces 5-year EFS ≈81 vs 72% (Schmid 2024).
			pembro := r.Float64() < 0.7 // ASSUMPTION: 70% get the KEYNOTE-522 regimen
			pcrRate, cureP, cureN := 0.512, 0.86, 0.50
			p.arm, v[tnTreatment] = earlyChemo, tnChemo
			if pembro {
				pcrRate, cureP, cureN = 0.648, 0.90, 0.58
				p.arm, v[tnTreatment] = earlyPembro, tnPembroChemo
			}
			if r.Float64() < pcrRate {
				v[tnPCR], p.cure = 0, cureP
			} else {
				v[tnPCR], p.cure = 1, cureN
			}
		}
		p.etaOS, p.etaPFS = eta, eta
	}
	return m
}
