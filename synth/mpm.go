package synth

import (
	"math"
	"math/rand/v2"
)

// MPM variable indexes.
const (
	mpAge = iota
	mpSex
	mpHistology
	mpStage
	mpECOG
	mpBAP1
	mpTreatment
	mpYear
)

// MPM levels.
const (
	epithelioid, sarcomatoid, biphasic = 0, 1, 2
	mpNivoIpi, mpChemo, mpChemoBev     = 0, 1, 2
)

func mpmModel() *model {
	m := &model{
		schema: &Schema{Study: MPM, Title: "Unresectable pleural mesothelioma, first line (synthetic)", Variables: []Variable{
			num("age", "years", "age at diagnosis", 18, 100),
			cat("sex", "sex", "female", "male"),
			cat("histology", "histological subtype", "epithelioid", "sarcomatoid", "biphasic"),
			cat("stage", "IMIG stage", "I", "II", "III", "IV"),
			whole("ecog", "points", "ECOG performance status at start of treatment", 0, 5),
			cat("bap1", "BAP1 by immunohistochemistry", "lost", "retained"),
			cat("treatment", "first-line regimen", "nivo-ipi", "chemo", "chemo-bev"),
			dxYear,
		}},
		arms: []arm{
			// CheckMate 743 and MAPS enrolled ECOG 0–1 (maxECOG).
			// CheckMate 743 by histology: epithelioid OS 18.7 vs 16.5, non-epithelioid 18.1
			// vs 8.8 (Baas Lancet 2021); k 1.09 (nivo-ipi) / 1.07 (chemo) (SYNTH.md §5).
			// PFS 6.8 vs 7.2 overall (Baas 2021); non-epithelioid chemotherapy PFS 4.5 is an
			// ASSUMPTION (not published in SYNTH.md; must stay below its 8.8-month OS).
			// PFS shapes: ASSUMPTION 0.9 for nivo-ipi, 1.1 for chemotherapy.
			{key: "nivo-ipi/epithelioid", osMedian: 18.7, osShape: 1.09, pfsMedian: 6.8, pfsShape: 0.9, maxECOG: 1},
			{key: "nivo-ipi/non-epithelioid", osMedian: 18.1, osShape: 1.09, pfsMedian: 6.8, pfsShape: 0.9, maxECOG: 1},
			{key: "chemo/epithelioid", osMedian: 16.5, osShape: 1.07, pfsMedian: 7.2, pfsShape: 1.1, maxECOG: 1},
			{key: "chemo/non-epithelioid", osMedian: 8.8, osShape: 1.07, pfsMedian: 4.5, pfsShape: 1.1, maxECOG: 1},
			// MAPS, bevacizumab added to chemotherapy: OS 18.8, PFS 9.2 (Zalcman Lancet 2016);
			// shapes as chemotherapy (ASSUMPTION).
			{key: "chemo-bev", osMedian: 18.8, osShape: 1.07, pfsMedian: 9.2, pfsShape: 1.1, maxECOG: 1},
		},
		volumeHR: [4]float64{1, 1, 1, 1},
		// Community-centre treatment predicts worse OS (Verma Clin Lung Cancer 2018); the
		// size of the effect is an ASSUMPTION: HR 1.10.
		communityHR: 1.10,
		// CheckMate 743 median follow-up ≈30 months: A 24, F 18 (ASSUMPTION, SYNTH.md §5).
		accrual: 24, minFollowUp: 18, dropout: 0.03,
		rho: 0.6,
		// PFS ends in progression or in death before it: the latent times already say which
		// (PFS = min(progression, death), sampleLatent), so the split adds no parameter.
		pfsCauses: PFSCauses,
	}
	nivoE, nivoN := m.armIndex("nivo-ipi/epithelioid"), m.armIndex("nivo-ipi/non-epithelioid")
	chemoE, chemoN := m.armIndex("chemo/epithelioid"), m.armIndex("chemo/non-epithelioid")
	bev := m.armIndex("chemo-bev")
	// IMIG stage: ASSUMPTION HR 1.0 / 1.0 / 1.25 / 1.5 for I / II / III / IV.
	stageHR := []float64{0, 0, math.Log(1.25), math.Log(1.5)}
	// Within non-epithelioid tumours, sarcomatoid vs biphasic: NCDB median OS 5.3 vs 9.5
	// months (Verma 2018) → HR 9.5/5.3 = 1.79 under exponential survival.
	logHRSarcomatoid := math.Log(9.5 / 5.3)
	// BAP1 loss: favourable, ASSUMPTION HR 0.8.
	logHRBAP1Loss := math.Log(0.8)
	// Women live longer with mesothelioma: ASSUMPTION HR 0.8 (the NCCTG lung figure 0.575
	// would be too strong here).
	logHRFemaleMPM := math.Log(0.8)

	m.draw = func(r *rand.Rand, s *Site, p *patient) {
		v := p.v
		// NCDB 2004–20: mean age 70 (SD 13), 73.2% male (Bou-Samra Cancer Med 2023).
		v[mpAge] = normalTrunc(r, 70, 13, 30, 99)
		v[mpSex] = bern(r, 0.732)
		// Histology E/S/B 68/18/13% (NCDB, Verma 2018; the missing 1% added to epithelioid).
		h := pick(r, 0.69, 0.18, 0.13)
		v[mpHistology] = h
		v[mpStage] = pick(r, 0.08, 0.12, 0.35, 0.45) // ASSUMPTION for unresectable disease
		// ECOG: ASSUMPTION 35/55/10% (CheckMate 743 took ECOG 0–1 only).
		ecog := pick(r, 0.35, 0.55, 0.10)
		v[mpECOG] = missing(r, 0.03, ecog)
		p.ecog = ecog
		// BAP1 loss 56%: epithelioid 55, sarcomatoid 42, biphasic 64% (Erber AIMM 2019);
		// immunohistochemistry is done for ASSUMPTION 70% of the site's testing rate.
		pLoss := []float64{0.55, 0.42, 0.64}[int(h)]
		loss := r.Float64() < pLoss
		v[mpBAP1] = b2l(loss)
		if r.Float64() >= 0.7*s.Testing {
			v[mpBAP1] = math.NaN()
		}
		// Treatment: ASSUMPTION nivo-ipi 55%, chemotherapy 35%, chemo-bevacizumab 10%; MAPS
		// took patients aged ≤75 only; frail patients get chemotherapy.
		epi := is(h, epithelioid)
		u := r.Float64()
		switch {
		case ecog >= 2 && u < 0.6:
			v[mpTreatment] = mpChemo
		case u < 0.55:
			v[mpTreatment] = mpNivoIpi
		case u < 0.65 && v[mpAge] <= 75:
			v[mpTreatment] = mpChemoBev
		default:
			v[mpTreatment] = mpChemo
		}
		switch {
		case is(v[mpTreatment], mpNivoIpi) && epi:
			p.arm = nivoE
		case is(v[mpTreatment], mpNivoIpi):
			p.arm = nivoN
		case is(v[mpTreatment], mpChemoBev):
			p.arm = bev
		case epi:
			p.arm = chemoE
		default:
			p.arm = chemoN
		}
		eta := logHREcog*ecog + logHRAge*(v[mpAge]-70) + stageHR[int(v[mpStage])]
		if is(h, sarcomatoid) {
			eta += logHRSarcomatoid
		}
		if loss {
			eta += logHRBAP1Loss
		}
		if is(v[mpSex], female) {
			eta += logHRFemaleMPM
		}
		p.etaOS, p.etaPFS = eta, eta
	}
	return m
}
