package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

var (
	modelsOnce sync.Once
	models     map[Study]*model
)

func modelOf(s Study) (*model, error) {
	modelsOnce.Do(func() {
		models = map[Study]*model{
			NSCLC: nsclcModel(),
			TNBC:  tnbcModel(),
			MPM:   mpmModel(),
			MM:    mmModel(),
		}
	})
	m, ok := models[s]
	if !ok {
		return nil, fmt.Errorf("synth: unknown study %q (want one of nsclc, tnbc, mpm, mm)", s)
	}
	return m, nil
}

// num is a numeric variable with its declared range (public: the study's dictionary says
// it, and the node refuses values outside it).
func num(name, unit, doc string, lo, hi float64) Variable {
	return Variable{Name: name, Unit: unit, Doc: doc, Min: &lo, Max: &hi}
}

// whole is a numeric variable whose values are the whole numbers lo…hi (declared discrete).
func whole(name, unit, doc string, lo, hi float64) Variable {
	v := num(name, unit, doc, lo, hi)
	v.Discrete = true
	return v
}
func cat(name, doc string, levels ...string) Variable {
	return Variable{Name: name, Levels: levels, Doc: doc}
}

// onPanel declares v measured by test panel (Variable.Panel).
func onPanel(v Variable, panel string) Variable {
	v.Panel = panel
	return v
}

// Shared covariate effects, from the NCCTG advanced lung cancer data (R survival::lung,
// coxph(Surv(time, status) ~ sex + ph.ecog + age)): HR 1.59 per ECOG point, 0.575 for
// women, 1.011 per year of age. Used as the prognostic backbone where a cancer-specific
// figure is missing (marked so at the use).
var (
	logHREcog   = math.Log(1.59)
	logHRFemale = math.Log(0.575)
	logHRAge    = math.Log(1.011)
)

// dxYear is the variable every study has for the year of diagnosis; the generator fills
// it from the accrual date.
var dxYear = whole("dx_year", "year", "year of diagnosis (start of first-line treatment)", 2015, 2030)

// NSCLC variable indexes.
const (
	luAge = iota
	luSex
	luRace
	luHistology
	luStage
	luECOG
	luWtLoss
	luEGFR
	luALK
	luKRAS
	luPDL1
	luTreatment
	luYear
)

// NSCLC levels, in the order of the schema.
const (
	female, male                               = 0, 1
	nonSquamousAdeno, squamous, otherHistology = 0, 1, 2
	positive, negative                         = 0, 1
	tpsBelow1, tps1to49, tps50                 = 0, 1, 2
)

func nsclcModel() *model {
	m := &model{
		schema: &Schema{Study: NSCLC, Title: "Advanced NSCLC, first line (real-world, synthetic)", Variables: []Variable{
			num("age", "years", "age at diagnosis", 18, 100),
			cat("sex", "sex", "female", "male"),
			cat("race", "self-reported race", "asian", "black", "white", "other"),
			cat("histology", "histology", "adenocarcinoma", "squamous", "other"),
			cat("stage", "clinical stage (IASLC 8th edition)", "IIIB", "IIIC", "IVA", "IVB"),
			whole("ecog", "points", "ECOG performance status at start of treatment", 0, 5),
			num("weight_loss_kg", "kg", "weight loss in the last six months", -50, 100),
			onPanel(cat("egfr", "EGFR sensitising mutation", "mutant", "wild-type"), "ngs"),
			onPanel(cat("alk", "ALK rearrangement", "rearranged", "negative"), "ngs"),
			onPanel(cat("kras_g12c", "KRAS G12C mutation", "mutant", "wild-type"), "ngs"),
			cat("pdl1_tps", "PD-L1 tumour proportion score, %", "<1", "1-49", ">=50"),
			cat("treatment", "first-line regimen", "osimertinib", "egfr-tki-1g", "alectinib", "crizotinib",
				"pembrolizumab", "pembro-chemo", "chemo"),
			dxYear,
		}},
		// maxECOG: KEYNOTE-024/189 and FLAURA enrolled ECOG 0–1, ALEX 0–2.
		// Each arm's OS median and Weibull shape k come from SYNTH.md §5 (fitted from the
		// median and a published landmark); PFS shapes are an ASSUMPTION where not
		// fitted (TKIs ≈1.2, pembrolizumab alone 0.8 for its plateau).
		arms: []arm{
			// FLAURA: OS 38.6 vs 31.8 months, PFS 18.9 vs 10.2 (Soria NEJM 2018; Ramalingam NEJM 2020); k 1.69 / 1.36.
			{key: "osimertinib", osMedian: 38.6, osShape: 1.69, pfsMedian: 18.9, pfsShape: 1.2, maxECOG: 1},
			{key: "egfr-tki-1g", osMedian: 31.8, osShape: 1.36, pfsMedian: 10.2, pfsShape: 1.2, maxECOG: 1},
			// ALEX: final OS 81.1 vs 54.2, PFS 34.8 vs 10.9 (Mok Ann Oncol 2020; Peters Ann Oncol 2025); k 1.29 / 1.25.
			{key: "alectinib", osMedian: 81.1, osShape: 1.29, pfsMedian: 34.8, pfsShape: 1.2, maxECOG: 2},
			{key: "crizotinib", osMedian: 54.2, osShape: 1.25, pfsMedian: 10.9, pfsShape: 1.2, maxECOG: 2},
			// KEYNOTE-024 pembrolizumab, TPS ≥50%: OS 26.3, PFS 10.3 (Reck NEJM 2016; JCO 2021); k 0.61.
			{key: "pembrolizumab", osMedian: 26.3, osShape: 0.61, pfsMedian: 10.3, pfsShape: 0.8, maxECOG: 1},
			// KEYNOTE-189: OS 22.0 vs 10.6, PFS 9.0 vs 4.9 (Garassino JCO 2023); OS k 0.86 /
			// 0.66. PFS k 0.8 / 1.1 (ASSUMPTION: an immunotherapy plateau); with them a
			// site-stratified adjusted Cox fit gives PFS HR ≈0.56 vs the published 0.50 (a
			// shared k = 1.1 gives 0.62, because PFS is the minimum with OS).
			{key: "pembro-chemo", osMedian: 22.0, osShape: 0.86, pfsMedian: 9.0, pfsShape: 0.8, maxECOG: 1},
			{key: "chemo", osMedian: 10.6, osShape: 0.66, pfsMedian: 4.9, pfsShape: 1.1, maxECOG: 1},
		},
		// Stage IV NSCLC, hospital-volume quartiles Q1–Q3 vs Q4: HR 1.11/1.12/1.05 (Goyal,
		// NCDB). The academic-centre HR 0.93 (Lou Cancer Med 2018) is not added on top: our
		// academic centres are the Q4 sites, so it would count the same effect twice.
		volumeHR:    [4]float64{1.11, 1.12, 1.05, 1},
		communityHR: 1,
		// Median potential follow-up ≈60 months as in KEYNOTE-024/189 (≈60/65); A and F are
		// an ASSUMPTION tuned to it (SYNTH.md §5), dropout 3%/yr (ASSUMPTION, 2–5%/yr).
		accrual: 24, minFollowUp: 48, dropout: 0.03,
		rho: 0.6,
	}
	tki, tki1g := m.armIndex("osimertinib"), m.armIndex("egfr-tki-1g")
	alec, criz := m.armIndex("alectinib"), m.armIndex("crizotinib")
	pembro, pembroChemo, chemo := m.armIndex("pembrolizumab"), m.armIndex("pembro-chemo"), m.armIndex("chemo")

	// Stage log HRs relative to IVA from IASLC 8th ed. 5-year OS (Goldstraw JTO 2016):
	// under exponential survival HR = ln S₅(stage)/ln S₅(IVA): IIIB 26% → 0.585, IIIC 13% →
	// 0.886 vs IVA 10%. IVB (5-yr ≈0%) vs IVA: ASSUMPTION 1.5, ≈ the M1c vs M1a/b medians
	// (≈6 vs ≈11 months, Eberhardt JTO 2015; not re-verified).
	stageHR := []float64{math.Log(0.585), math.Log(0.886), 0, math.Log(1.5)}
	// KEYNOTE-189 pembrolizumab arm OS by PD-L1 ≈28 / 22 / 17 months for ≥50 / 1–49 / <1
	// (Gadgeel JCO 2020, ≈): with k = 0.86, HR = (17/28)^0.86 = 0.651 and (17/22)^0.86 = 0.801.
	// Chemotherapy OS (≈10/12/10) does not depend on PD-L1.
	pdl1HR := []float64{0, math.Log(0.801), math.Log(0.651)}

	m.draw = func(r *rand.Rand, s *Site, p *patient) {
		v := p.v
		// Sex: 53% male (SEER-NPCR, Ganti JAMA Oncol 2021).
		v[luSex] = bern(r, 0.53)
		// Race: East Asian share varies by site (SYNTH.md §5); the rest white 83%, black
		// 12%, other 5% (ASSUMPTION, US-like).
		if r.Float64() < s.AsianShare {
			v[luRace] = 0
		} else {
			v[luRace] = 1 + pick(r, 0.12, 0.83, 0.05)
		}
		asian := is(v[luRace], 0)
		// Histology: ASSUMPTION adenocarcinoma 62%, squamous 28%, other 10%.
		v[luHistology] = pick(r, 0.62, 0.28, 0.10)
		nonsq := !is(v[luHistology], squamous)
		// Stage among advanced first-line patients: ASSUMPTION IIIB 8, IIIC 4, IVA 38, IVB 50%.
		v[luStage] = pick(r, 0.08, 0.04, 0.38, 0.50)
		// ECOG: ASSUMPTION, community hospitals treat more frail patients.
		var ecog float64
		if s.Kind == Academic {
			ecog = pick(r, 0.38, 0.52, 0.10)
		} else {
			ecog = pick(r, 0.30, 0.55, 0.15)
		}
		// Latent driver alterations (mutually exclusive). EGFR: Europe 14.1%, China 38.4%;
		// women 43.7% vs men 24.0%, a ratio of 1.82 (Zhang Oncotarget 2016). They occur in
		// non-squamous tumours: ×1.3 there, 3% in squamous (ASSUMPTION), keeping the overall
		// rate.
		pE := 0.141
		if asian {
			pE = 0.384
		}
		if is(v[luSex], female) {
			pE *= 1.82 / (0.47*1.82 + 0.53)
		} else {
			pE *= 1 / (0.47*1.82 + 0.53)
		}
		if nonsq {
			pE = math.Min(0.9, 1.3*pE)
		} else {
			pE = 0.03
		}
		egfr := r.Float64() < pE
		// ALK: 3% of advanced NSCLC (EXPRESS), 7.2% of adenocarcinoma (Fan PLoS One 2014):
		// 4.2% of non-squamous gives ≈3% overall.
		alk := !egfr && nonsq && r.Float64() < 0.042
		// KRAS G12C: US/Europe 9.3–19.5% (≈13%), Asia 1.4–4.3% (≈3%) (Lim Lung Cancer 2023).
		pK := 0.13
		if asian {
			pK = 0.03
		}
		kras := !egfr && !alk && r.Float64() < pK
		// Age: SEER 67% aged ≥65 (Ganti 2021) and KEYNOTE-189 median 63.5–65: N(68, 9.5);
		// ALK-positive patients are ≈7 years younger (Fan 2014).
		mean := 68.0
		if alk {
			mean -= 7
		}
		v[luAge] = normalTrunc(r, mean, 9.5, 30, 95)
		// Weight loss: NCCTG lung data mean 9.8 kg, SD 13.1, range −24…68, 14/228 = 6.1%
		// missing (R survival::lung).
		v[luWtLoss] = missing(r, 0.061, normalTrunc(r, 9.8, 13.1, -24, 68))
		// One NGS panel gives EGFR, ALK and KRAS; squamous tumours are tested less
		// (ASSUMPTION: 40% of the site's rate).
		tested := s.Testing
		if !nonsq {
			tested *= 0.4
		}
		panel := r.Float64() < tested
		if panel {
			v[luEGFR], v[luALK], v[luKRAS] = b2l(egfr), b2l(alk), b2l(kras)
		} else {
			v[luEGFR], v[luALK], v[luKRAS] = math.NaN(), math.NaN(), math.NaN()
		}
		// PD-L1 TPS <1 / 1–49 / ≥50: 47/26/27% when EGFR/ALK negative (Dietel, EXPRESS,
		// Lung Cancer 2019); driver-positive tumours: ASSUMPTION 55/35/10, which gives
		// ≈48/30/22% overall as EXPRESS reports. Not evaluable or not done: 7% (ASSUMPTION).
		var tps float64
		if egfr || alk {
			tps = pick(r, 0.55, 0.35, 0.10)
		} else {
			tps = pick(r, 0.47, 0.26, 0.27)
		}
		v[luPDL1] = missing(r, 0.07, tps)
		// Treatment follows the guideline on the test results, as far as practice does: a
		// driver found by the panel gets the matched targeted first line with probability
		// targetedUptake, else the standard line below (a driver missed because the panel was
		// not done gets it too). Frail or very old patients get chemotherapy alone more often
		// (ASSUMPTION). One draw decides, as before the uptake was modelled, so that patients
		// without a driver keep their regimen.
		p.ecog = ecog
		frail := ecog >= 2 || v[luAge] >= 80
		u := r.Float64()
		driver := panel && (egfr || alk)
		switch {
		case driver && u < targetedUptake && egfr:
			p.arm = pick2(u/targetedUptake, 0.8, tki, tki1g)
		case driver && u < targetedUptake:
			p.arm = pick2(u/targetedUptake, 0.8, alec, criz)
		default:
			if driver {
				u = (u - targetedUptake) / (1 - targetedUptake)
			}
			switch {
			case tps == tps50 && !math.IsNaN(v[luPDL1]) && frail:
				p.arm = pick3(u, 0.5, 0.1, pembro, pembroChemo, chemo)
			case tps == tps50 && !math.IsNaN(v[luPDL1]):
				p.arm = pick3(u, 0.45, 0.45, pembro, pembroChemo, chemo)
			case frail:
				p.arm = pick2(u, 0.5, pembroChemo, chemo)
			default:
				p.arm = pick2(u, 0.75, pembroChemo, chemo)
			}
		}
		v[luTreatment] = float64(p.arm) // treatment levels are in arm order
		// Log hazard: ECOG, sex, age (NCCTG lung), stage (IASLC), PD-L1 under
		// pembrolizumab-chemotherapy (KEYNOTE-189).
		eta := logHREcog*ecog + logHRAge*(v[luAge]-68) + stageHR[int(v[luStage])]
		if is(v[luSex], female) {
			eta += logHRFemale
		}
		if p.arm == pembroChemo {
			eta += pdl1HR[int(tps)]
		}
		p.etaOS, p.etaPFS = eta, eta
		// ECOG is missing for 3% (task brief; NCCTG lung has 1/228). The hazard used the
		// true value: missing at random.
		v[luECOG] = missing(r, 0.03, ecog)
	}
	return m
}

// targetedUptake is the share of driver-positive patients (EGFR, ALK) found by the panel who
// start the matched targeted therapy in first line: 72.8% of 961 US patients with an EGFR
// exon 19 deletion or L858R got an EGFR TKI first (Flatiron 2011–2016; "Real-world management
// of patients with EGFR mutation-positive NSCLC in the USA", PLoS One 2019;14:e0209709). ALK:
// ASSUMPTION the same; 66.2% of 441 ALK-positive patients in India got an ALK inhibitor first,
// most of the others for cost (JTO Clin Res Rep 2023;4:100443). The others get the standard
// line of a driver-negative patient (synth/SOURCES.md).
const targetedUptake = 0.73

// b2l maps a positive finding to level 0 (mutant, rearranged, ...) and a negative one to 1.
func b2l(b bool) float64 {
	if b {
		return positive
	}
	return negative
}

func choose(r *rand.Rand, pFirst float64, a, b int) int { return pick2(r.Float64(), pFirst, a, b) }

func choose3(r *rand.Rand, pa, pb float64, a, b, c int) int {
	return pick3(r.Float64(), pa, pb, a, b, c)
}

// pick2 is a when the uniform draw u is below pFirst, else b.
func pick2(u, pFirst float64, a, b int) int {
	if u < pFirst {
		return a
	}
	return b
}

// pick3 is a, b or c as the uniform draw u falls below pa, below pa+pb, or above.
func pick3(u, pa, pb float64, a, b, c int) int {
	switch {
	case u < pa:
		return a
	case u < pa+pb:
		return b
	}
	return c
}
