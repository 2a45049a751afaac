package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

func init() {
	commands["cif"] = command{"cumulative incidence of competing causes (Aalen–Johansen) and Gray's test", runCIF}
}

// cifDoc is the cif command's result, in the JSON layout of issue 17.
type cifDoc struct {
	Study    string         `json:"study"`
	Endpoint string         `json:"endpoint"`
	Cohort   any            `json:"cohort"`
	GroupBy  string         `json:"group_by,omitempty"`
	ConfType string         `json:"conf_type"`
	BinDays  float64        `json:"bin_days"`
	Sites    map[string]any `json:"sites"`
	Policy   map[string]any `json:"policy"`
	Groups   []cifGroupDoc  `json:"groups"`
	Gray     []grayDoc      `json:"gray"`
	// GrayError says why Gray's test is missing with two groups or more.
	GrayError string `json:"gray_error,omitempty"`
	// GrayWithNoise: Gray's tests of differentially private tables hold the noise in their
	// variance (report.DPGrayNote).
	GrayWithNoise bool `json:"gray_with_noise,omitempty"`
	// DPNote says, for differentially private tables, that counts are noisy and whether the
	// intervals include the noise (report.DPCIFNote).
	DPNote  string         `json:"dp_note,omitempty"`
	Privacy report.Privacy `json:"privacy"`

	landmarks []float64
	unit      timeUnit
}

type cifGroupDoc struct {
	Name   string        `json:"name"`
	N      int           `json:"n"`
	Causes []cifCauseDoc `json:"causes"`

	est *analysis.CIFEstimate
}

type cifCauseDoc struct {
	Cause  string      `json:"cause"`
	Events int         `json:"events"`
	Curve  cifCurveDoc `json:"curve"`
}

type cifCurveDoc struct {
	Time   []float64  `json:"time"`
	NRisk  []int      `json:"n_risk"`
	NEvent []int      `json:"n_event"`
	CIF    []float64  `json:"cif"`
	StdErr []*float64 `json:"std_err"`
	Lower  []*float64 `json:"lower"`
	Upper  []*float64 `json:"upper"`
	// NoiseSD is, for differentially private tables, the noise's share of std_err (which
	// includes it: std_err² = Aalen–Johansen SE² + noise_sd²).
	NoiseSD []*float64 `json:"noise_sd,omitempty"`
}

type grayDoc struct {
	Cause string  `json:"cause"`
	Stat  float64 `json:"stat"`
	DF    int     `json:"df"`
	P     float64 `json:"p"`
}

func runCIF(ctx context.Context, c *common, args []string, out io.Writer) error {
	var a analysisFlags
	var cf curveFlags
	if err := parseFlags("cif", c, args, func(fs *flag.FlagSet) {
		a.register(fs, true)
		cf.register(fs, "365,730,1825", "cumulative incidence at these `DAYS` (text output)")
	}); err != nil {
		return err
	}
	ct, marks, err := cf.parse()
	if err != nil {
		return err
	}
	e, st, f, err := a.prepare(ctx, c, true)
	if err != nil {
		return err
	}
	defer e.Close()
	names := report.Names{From: st}
	labels := names.Causes(a.endpoint)
	if labels == nil {
		return usagef("--endpoint: %s of study %s declares no competing causes (oncofed-node import --causes); use km", a.endpoint, st.Name)
	}
	order, err := cf.groupOrder(st, &a)
	if err != nil {
		return err
	}
	r, err := e.run(ctx, app.Request{Kind: protocol.KindSurvival, Study: st.Name, Cohort: f, GroupBy: a.group, Merge: a.merged, Endpoint: a.endpoint, CIF: true})
	if err != nil {
		return err
	}
	r = app.InOrder(r, order)
	doc, err := cifDocument(r, labels, ct)
	if err != nil {
		return err
	}
	doc.landmarks, doc.unit = marks, cf.unit
	if err := writeCIF(out, c.format, doc); err != nil {
		return err
	}
	if cf.plot != "" {
		r.Display = &app.Display{View: app.ViewCIF}
		if err := drawFigure(r, names, cf.unit, cf.plot); err != nil {
			return err
		}
	}
	return requireAll(c, &r.Provenance)
}

// cifDocument builds the cif result document; another confidence interval type than R's
// default (log) is recomputed from the merged tables (with the noise of dp tables, as shown).
func cifDocument(r *app.Result, labels []string, ct analysis.ConfType) (*cifDoc, error) {
	km := r.KM
	if km.Causes == 0 {
		return nil, fmt.Errorf("the sites' replies do not split events by cause (a site without the causes, or a differentially private release not asked for the split: the request was not a cumulative incidence's): no cumulative incidence")
	}
	if km.CIFError != "" {
		return nil, fmt.Errorf("no cumulative incidence: %s", km.CIFError)
	}
	doc := &cifDoc{Study: r.Request.Study, Endpoint: km.Endpoint, Cohort: r.Request.Cohort, GroupBy: r.Request.GroupBy,
		ConfType: ct.String(), BinDays: km.BinDays, Sites: provenanceJSON(&r.Provenance), Policy: policyJSON(&r.Provenance),
		Gray: []grayDoc{}, GrayError: km.GrayError, GrayWithNoise: km.GrayWithNoise && len(km.Gray) > 0, DPNote: report.DPCIFNote(r),
		Privacy: report.NewPrivacy(r, clock())}
	for _, t := range km.Gray {
		doc.Gray = append(doc.Gray, grayDoc{Cause: report.CauseName(labels, t.Cause), Stat: t.Stat, DF: t.DF, P: t.P})
	}
	for _, grp := range km.Groups {
		est := grp.CIF
		if est == nil {
			continue
		}
		if ct != est.ConfType {
			noise := est.NoiseSDs()
			var err error
			if est, err = analysis.CumulativeIncidence(grp.Table, analysis.KMOptions{ConfType: ct}); err != nil {
				return nil, err
			}
			if noise != nil {
				est = est.WithNoise(noise)
			}
		}
		gd := cifGroupDoc{Name: report.GroupName(grp.Group), N: est.N, est: est}
		for c, cc := range est.Causes {
			gd.Causes = append(gd.Causes, cifCauseDoc{Cause: report.CauseName(labels, c+1), Events: cc.Events,
				Curve: cifCurveDoc{Time: est.Time, NRisk: est.NRisk, NEvent: cc.NEvent, CIF: cc.CIF,
					StdErr: nums(cc.StdErr), Lower: nums(cc.Lower), Upper: nums(cc.Upper), NoiseSD: nums(cc.NoiseSD)}})
		}
		doc.Groups = append(doc.Groups, gd)
	}
	return doc, nil
}

func writeCIF(w io.Writer, format string, doc *cifDoc) error {
	switch format {
	case "json":
		return writeJSON(w, doc)
	case "csv":
		recs := [][]string{{"group", "cause", "time", "n_risk", "n_event", "cif", "std_err", "lower", "upper"}}
		for _, gd := range doc.Groups {
			for _, cd := range gd.Causes {
				c := cd.Curve
				for k := range c.Time {
					recs = append(recs, []string{gd.Name, cd.Cause, g(c.Time[k]), strconv.Itoa(c.NRisk[k]), strconv.Itoa(c.NEvent[k]),
						g(c.CIF[k]), ptrG(c.StdErr[k]), ptrG(c.Lower[k]), ptrG(c.Upper[k])})
				}
			}
		}
		return writeCSV(w, report.WithRelease(recs, doc.Privacy.Release))
	}
	writeCurvesHeading(w, "Cumulative incidence (Aalen–Johansen)", doc.Endpoint, doc.Study, doc.GroupBy, doc.ConfType, doc.BinDays, doc.Cohort)
	t := table(w)
	fmt.Fprint(t, "GROUP\tCAUSE\tN\tEVENTS")
	for _, m := range doc.landmarks {
		fmt.Fprintf(t, "\tCIF(%s) (95%% CI)", doc.unit.landmark(m))
	}
	fmt.Fprintln(t)
	for _, gd := range doc.Groups {
		for c, cd := range gd.Causes {
			fmt.Fprintf(t, "%s\t%s\t%d\t%d", gd.Name, cd.Cause, gd.N, cd.Events)
			for _, m := range doc.landmarks {
				p := gd.est.At(c+1, m)
				if p.Beyond {
					fmt.Fprint(t, "\tbeyond follow-up")
					continue
				}
				fmt.Fprintf(t, "\t%s (%s–%s)", pstr(num(p.CIF)), pstr(num(p.Lower)), pstr(num(p.Upper)))
			}
			fmt.Fprintln(t)
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, gt := range doc.Gray {
		fmt.Fprintf(w, "Gray's test, %s: stat = %s on %d df, p %s\n", gt.Cause, r4(gt.Stat), gt.DF, pEq(gt.P))
	}
	if doc.GrayError != "" {
		fmt.Fprintf(w, "Gray's test: %s\n", doc.GrayError)
	}
	if doc.GrayWithNoise {
		fmt.Fprintln(w, report.DPGrayNote+".")
	}
	if doc.DPNote != "" {
		fmt.Fprintln(w, doc.DPNote+".")
	}
	fmt.Fprintln(w, doc.Privacy.Line())
	return nil
}
