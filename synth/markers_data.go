package synth

import (
	"math"
	"math/rand/v2"
)

// The candidate markers of each cancer (Spec.Markers). Prevalences and effects cite their
// source as SYNTH.md does; SOURCES.md lists the sources. "≈" means a secondary summary or a
// figure not re-verified; ASSUMPTION means none was found. A gene listed without an effect
// is one a real panel reports: the screen should find nothing there.

// nsclcMarkers: on the NGS panel of the study (missing when the panel was not done).
func nsclcMarkers(m *model) []marker {
	ici := []int{m.armIndex("pembrolizumab"), m.armIndex("pembro-chemo")}
	ngs := func(p *patient) bool { return !math.IsNaN(p.v[luEGFR]) }
	driverFree := func(p *patient) bool { return is(p.v[luEGFR], negative) && is(p.v[luALK], negative) }
	ms := []marker{
		// KRAS, any mutation: 33% of lung adenocarcinoma (TCGA LUAD, Nature 2014), none with
		// EGFR or ALK; G12C tumours are KRAS-mutant. No effect (ASSUMPTION: prognostic value
		// is inconsistent across series).
		{v: cat("kras", "KRAS mutation, any", "wt", "mut"), panel: ngs, draw: func(r *rand.Rand, _ *Site, p *patient, _ markerValues) float64 {
			if is(p.v[luKRAS], positive) {
				return 1
			}
			if !driverFree(p) {
				return 0
			}
			return bern(r, 0.22)
		}},
		// ROS1 1.7% (Bergethon JCO 2012), BRAF V600E ≈2% (Planchard Lancet Oncol 2016, ≈),
		// MET exon 14 skipping 3% (Frampton Cancer Discov 2015), RET fusion 1–2% (Kohno Nat
		// Med 2012): rare drivers without a simulated effect (all are treated with chemo or
		// immunotherapy here: no targeted arm in the study).
		mutation("ros1", "ROS1 rearrangement", 0.017).onPanel(ngs),
		mutation("braf_v600e", "BRAF V600E mutation", 0.02).onPanel(ngs),
		mutation("met_ex14", "MET exon 14 skipping", 0.03).onPanel(ngs),
		mutation("ret", "RET rearrangement", 0.015).onPanel(ngs),
		// TP53 46% in LUAD (TCGA 2014), 81% in LUSC (TCGA Nature 2012); prognostic HR ≈1.2
		// (Mogi & Kuwano J Biomed Biotechnol 2011 meta-analysis, ≈).
		marker{v: cat("tp53", "TP53 mutation", "wt", "mut"), panel: ngs, draw: func(r *rand.Rand, _ *Site, p *patient, _ markerValues) float64 {
			if is(p.v[luHistology], squamous) {
				return bern(r, 0.81)
			}
			return bern(r, 0.46)
		}}.hr(1.2),
		// STK11 17% and KEAP1 17% of LUAD (TCGA 2014); under immune checkpoint inhibitors
		// they worsen outcome: OS HR ≈1.7 (STK11) and ≈1.6 (KEAP1) (Skoulidis Cancer Discov
		// 2018; Ricciuti JTO 2022; ≈), no effect under other regimens (ASSUMPTION).
		mutation("stk11", "STK11 mutation", 0.17).onPanel(ngs).hrOn(1.7, ici...),
		mutation("keap1", "KEAP1 mutation", 0.17).onPanel(ngs).hrOn(1.6, ici...),
		// SMARCA4 6% of LUAD (TCGA 2014); OS HR ≈1.5 whatever the regimen (Schoenfeld Clin
		// Cancer Res 2020, ≈).
		mutation("smarca4", "SMARCA4 mutation", 0.06).onPanel(ngs).hr(1.5),
		// Tumour mutational burden: log-normal, median 7 mut/Mb in NSCLC (Chalmers Genome
		// Med 2017, ≈), σ(log) 0.9 (ASSUMPTION). No effect of its own.
		{v: num("tmb", "mut/Mb", "tumour mutational burden", 0, 500), panel: ngs, draw: func(r *rand.Rand, _ *Site, _ *patient, _ markerValues) float64 {
			return math.Min(500, math.Round(7*math.Exp(0.9*r.NormFloat64())*10)/10)
		}},
		// TMB-high (≥10 mut/Mb, CheckMate 227's cut; Hellmann NEJM 2018): HR 0.8 under
		// immunotherapy (ASSUMPTION, below CheckMate 227's PFS HR 0.58: OS was not different).
		marker{v: cat("tmb_high", "tumour mutational burden ≥10 mut/Mb", "no", "yes"), panel: ngs, draw: func(_ *rand.Rand, _ *Site, _ *patient, mv markerValues) float64 {
			if mv.get("tmb") >= 10 {
				return 1
			}
			return 0
		}}.hrOn(0.8, ici...),
	}
	// Panel genes without an effect, with their LUAD frequency (TCGA 2014; cBioPortal,
	// ≈): the extended panel is not run everywhere.
	ms = append(ms, nullGenes("NSCLC", false,
		gene{"nf1", 0.11}, gene{"setd2", 0.09}, gene{"rbm10", 0.08}, gene{"mga", 0.08},
		gene{"arid1a", 0.07}, gene{"pik3ca", 0.07}, gene{"rb1", 0.04}, gene{"cdkn2a", 0.04},
		gene{"atm", 0.08}, gene{"erbb2", 0.02}, gene{"nras", 0.01}, gene{"u2af1", 0.03},
	)...)
	ms = append(ms, nullGenes("NSCLC", true,
		gene{"rit1", 0.02}, gene{"lrp1b", 0.30}, gene{"kmt2d", 0.10}, gene{"kmt2c", 0.12},
		gene{"ptprd", 0.11}, gene{"fat1", 0.10}, gene{"arid2", 0.07}, gene{"brca2", 0.05},
		gene{"ntrk1", 0.003},
	)...)
	return append(ms, nullScores("ifng", "cd8", "proliferation", "hypoxia", "emt", "tgfb", "stroma", "nrf2")...)
}

// tnbcMarkers: germline BRCA and PD-L1 CPS are the study's own variables.
func tnbcMarkers(_ *model) []marker {
	ms := []marker{
		// TP53 ≈80% of basal-like/TNBC (TCGA Nature 2012; Shah Nature 2012), PIK3CA ≈10%
		// (Shah 2012): no simulated effect.
		mutation("tp53", "TP53 mutation", 0.80).miss(0.08),
		mutation("pik3ca", "PIK3CA mutation", 0.10).miss(0.08),
		// Stromal TILs (%): each 10% increment lowers the hazard of death, HR 0.84 (Loi JCO
		// 2019, pooled early TNBC; ≈). Log-normal, median 15%, σ(log) 1 (ASSUMPTION; most
		// tumours are below 30%).
		{v: num("tils", "%", "stromal tumour-infiltrating lymphocytes", 0, 100), missing: 0.10,
			draw: func(r *rand.Rand, _ *Site, _ *patient, _ markerValues) float64 {
				return math.Min(100, math.Round(15*math.Exp(r.NormFloat64())))
			},
			logHR: func(x float64, _ *patient, _ markerValues) float64 { return math.Log(0.84) * x / 10 },
		},
		// HRD (genomic scar score ≥42): ≈70% of TNBC (Telli Clin Cancer Res 2016, ≈); no
		// simulated effect.
		present("hrd", "homologous recombination deficiency (score ≥42)", 0.70).miss(0.25).ext(),
		// Androgen receptor ≥10% (luminal AR subtype) ≈25% (Lehmann JCI 2011, ≈); PTEN loss
		// ≈35% by IHC (≈): no simulated effect.
		present("ar", "androgen receptor ≥10% by IHC", 0.25).miss(0.10),
		present("pten_loss", "PTEN loss by IHC", 0.35).miss(0.15).ext(),
	}
	ms = append(ms, nullGenes("TNBC", false,
		gene{"rb1", 0.07}, gene{"nf1", 0.05}, gene{"kmt2c", 0.07}, gene{"pten", 0.05},
		gene{"akt1", 0.02}, gene{"brca1_somatic", 0.03}, gene{"atm", 0.03}, gene{"palb2", 0.01},
		gene{"chek2", 0.02}, gene{"myc_amp", 0.30}, gene{"ccne1_amp", 0.10}, gene{"egfr", 0.02},
		gene{"notch1", 0.03}, gene{"arid1a", 0.04},
	)...)
	ms = append(ms, nullGenes("TNBC", true,
		gene{"fgfr1_amp", 0.08}, gene{"mcl1_amp", 0.20}, gene{"kdm6a", 0.03}, gene{"map3k1", 0.02},
		gene{"gata3", 0.02}, gene{"cdh1", 0.02}, gene{"erbb2_mut", 0.02}, gene{"kras", 0.01},
		gene{"tbx3", 0.02}, gene{"pik3r1", 0.03}, gene{"nf2", 0.01}, gene{"spen", 0.02},
	)...)
	return append(ms, nullScores("ifng", "cd8", "proliferation", "basal", "lar", "mesenchymal", "immune", "stroma")...)
}

// mpmMarkers: histology and BAP1 are the study's own variables.
func mpmMarkers(_ *model) []marker {
	ms := []marker{
		// TCGA mesothelioma (Hmeljak Cancer Discov 2018) and Bueno Nat Genet 2016, ≈:
		// CDKN2A homozygous deletion ≈45%, prognostic OS HR ≈1.6 (≈); NF2 ≈38%, TP53 ≈16%,
		// LATS2 ≈10%, SETD2 ≈9%: no simulated effect.
		present("cdkn2a_del", "CDKN2A homozygous deletion (FISH)", 0.45).miss(0.10).hr(1.6),
		mutation("nf2", "NF2 alteration", 0.38).miss(0.10),
		mutation("tp53", "TP53 mutation", 0.16).miss(0.10),
		mutation("lats2", "LATS2 alteration", 0.10).miss(0.10).ext(),
		mutation("setd2", "SETD2 mutation", 0.09).miss(0.10).ext(),
		// PD-L1 ≥1% on tumour cells ≈40% (CheckMate 743, Baas Lancet 2021): no simulated
		// effect beyond the study's histology.
		present("pdl1_pos", "PD-L1 ≥1% on tumour cells", 0.40).miss(0.12),
	}
	ms = append(ms, nullGenes("MPM", false,
		gene{"pbrm1", 0.05}, gene{"ddx3x", 0.03}, gene{"ulk2", 0.02}, gene{"ryr2", 0.04},
		gene{"cfap45", 0.02}, gene{"setdb1", 0.03}, gene{"sf3b1", 0.02}, gene{"tert_promoter", 0.12},
		gene{"nf1", 0.04}, gene{"pik3ca", 0.02}, gene{"kmt2d", 0.04}, gene{"arid1a", 0.03},
		gene{"atm", 0.03}, gene{"brca2", 0.02},
	)...)
	ms = append(ms, nullGenes("MPM", true,
		gene{"mtap_loss", 0.40}, gene{"lats1", 0.03}, gene{"smarcb1", 0.02}, gene{"polr2a", 0.02},
		gene{"kdm6a", 0.02}, gene{"bap1_germline", 0.02}, gene{"wt1_amp", 0.05}, gene{"ep300", 0.02},
		gene{"nbn", 0.01}, gene{"cul1", 0.02}, gene{"cdkn2b_del", 0.35}, gene{"tsc1", 0.01},
	)...)
	return append(ms, nullScores("ifng", "cd8", "proliferation", "epithelial", "sarcomatoid", "stroma", "vegf", "mesothelin")...)
}

// mmMarkers: del(17p), t(4;14), t(14;16), 1q gain, ISS and R-ISS are the study's own
// variables.
func mmMarkers(_ *model) []marker {
	ms := []marker{
		// t(11;14) ≈16% by FISH (Fonseca Blood 2003, ≈); no effect of its own.
		present("t11_14", "t(11;14) by FISH", 0.16).miss(0.08),
		// Venetoclax added to first-line therapy (trial or off-label): ASSUMPTION 15% of
		// patients, more often with t(11;14) (40%). With t(11;14) it lowers the hazard, HR
		// 0.45 (ASSUMPTION, below BELLINI's PFS HR 0.10 in the small t(11;14) subgroup;
		// Kumar Lancet Oncol 2020); without, it raises it, HR 1.2 (≈ BELLINI's excess early
		// deaths, overall OS HR ≈2.0, mostly infections).
		{v: cat("venetoclax", "venetoclax in first line", "no", "yes"),
			draw: func(r *rand.Rand, _ *Site, _ *patient, mv markerValues) float64 {
				if mv.get("t11_14") == 1 {
					return bern(r, 0.40)
				}
				return bern(r, 0.12)
			},
			logHR: func(x float64, _ *patient, mv markerValues) float64 {
				switch {
				case x != 1:
					return 0
				case mv.get("t11_14") == 1:
					return math.Log(0.45)
				}
				return math.Log(1.2)
			},
		},
		// RAS/MAPK and other recurrent mutations (Walker JCO 2015, ≈): KRAS 21%, NRAS 19%,
		// TP53 5% (prognostic OS HR ≈1.6, Walker 2015 ≈), BRAF 6%, TRAF3 14%, DIS3 10%,
		// FAM46C 9%.
		mutation("tp53", "TP53 mutation", 0.05).miss(0.15).ext().hr(1.6),
		// Amplification of 1q (≥4 copies) ≈9% (Mayo, Blood Adv 2020, ≈): no effect beyond the
		// study's 1q gain.
		present("amp1q", "1q amplification (≥4 copies)", 0.09).miss(0.08),
	}
	ms = append(ms, nullGenes("MM", false,
		gene{"kras", 0.21}, gene{"nras", 0.19}, gene{"braf", 0.06}, gene{"traf3", 0.14},
		gene{"dis3", 0.10}, gene{"fam46c", 0.09}, gene{"hist1h1e", 0.05}, gene{"cyld", 0.03},
		gene{"irf4", 0.03}, gene{"egr1", 0.04}, gene{"prdm1", 0.04}, gene{"atm", 0.04},
		gene{"max", 0.02}, gene{"ptpn11", 0.02},
	)...)
	ms = append(ms, nullGenes("MM", true,
		gene{"cdkn2c_del", 0.10}, gene{"rb1_del", 0.30}, gene{"myc_sv", 0.15}, gene{"t6_14", 0.02},
		gene{"t14_20", 0.01}, gene{"fat3", 0.03}, gene{"sp140", 0.03}, gene{"ltb", 0.03},
		gene{"actg1", 0.02}, gene{"tgds", 0.02}, gene{"kmt2b", 0.03}, gene{"nfkbia", 0.02},
		gene{"tent5c", 0.03}, gene{"dusp2", 0.02},
	)...)
	return append(ms, nullScores("proliferation", "gep70", "cd38", "bcl2", "mcl1", "immune", "stroma", "nfkb")...)
}
