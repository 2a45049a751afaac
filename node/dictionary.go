package node

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/oncofed/oncofed/protocol"
)

// Dictionary is a study's declared data dictionary, the same at every site of the study: the
// catalog publishes it whatever the site's rows hold, so that it says nothing about them. A
// category absent at a site is an empty set there, answered like any small one.
type Dictionary struct {
	// Study, when set (a dictionary file's "study"), must be the study imported.
	Study string
	// Version is the study's declared version. A re-import may change the dictionary only
	// under another version (Store.ReplaceStudy refuses otherwise).
	Version string
	// Title is the study's title in words (the JSON's top-level "title").
	Title string
	// HorizonDays (the JSON's top-level "horizon_days") is the study's declared follow-up
	// horizon, for every endpoint that declares none of its own; nil: none.
	HorizonDays *float64
	Entries     []DictionaryEntry
}

// DictionaryEntry declares one variable or endpoint.
type DictionaryEntry struct {
	Name string
	// Endpoint marks an endpoint's entry (label only; its unit is days). An entry of the old
	// name,label,unit CSV format is neither marked nor typed: it applies to the variable or
	// the endpoint of that name.
	Endpoint bool
	// Type is categorical, numeric, or empty: categorical when Categories are given, numeric
	// when a range is, else as the values say (a column with a non-numeric value and no
	// declared categories is refused).
	Type  protocol.VariableType
	Label string
	Unit  string
	// Categories are the declared levels in the study's order (stage I < II < III < IV): the
	// catalog, groups and the reference level of a Cox model keep this order.
	Categories []string
	// Min and Max are a numeric variable's declared range; a value outside it is refused.
	Min, Max *float64
	// Discrete declares a numeric variable's values to be the whole numbers of its range
	// (protocol.Variable.Discrete); a value that is not one is refused at import.
	Discrete bool
	// Panel names the test that measures the variable (protocol.Variable.Panel): the
	// variables of one panel are missing together, checked at import. Variables only.
	Panel string
	// HorizonDays is an endpoint's declared horizon in days (public): its differentially
	// private survival releases have bins up to there instead of the policy's
	// dp_horizon_days (checkHorizon says what is allowed). Endpoints only; nil: none.
	HorizonDays *float64
}

// checkHorizon refuses a declared horizon that is not a positive finite number of days, or that
// would need more than maxDPBins bins of the default dp_bin_days (DefaultDP.DPBinDays): every
// bin up to the horizon is released with noise. (A node whose policy has narrower bins widens
// them for such a horizon, as it does for dp_horizon_days.)
func checkHorizon(what string, h *float64) *ImportError {
	if h == nil {
		return nil
	}
	if !(*h > 0) || math.IsInf(*h, 0) {
		return &ImportError{Reason: fmt.Sprintf("dictionary: %s: horizon_days %v: must be a positive number of days (the follow-up the study declares for its survival releases)", what, *h)}
	}
	if bins := math.Ceil(*h / DefaultDP.DPBinDays); bins > maxDPBins {
		return &ImportError{Reason: fmt.Sprintf("dictionary: %s: horizon_days %v is %g bins of %g days, more than %d (at most %g days)", what, *h, bins, DefaultDP.DPBinDays, maxDPBins, maxDPBins*DefaultDP.DPBinDays)}
	}
	return nil
}

// maxDeclaredCategories bounds the categories a variable may declare.
const maxDeclaredCategories = 1000

// ReadDictionary reads a data dictionary: JSON (the declared form, below) or, for files made
// before categories were declared, a CSV with the header name,label,unit (labels and units
// only; categorical columns then need --categories). The JSON form:
//
//	{"study": "lung", "version": "2026-1",
//	 "variables": [
//	   {"name": "sex", "type": "categorical", "label": "Sex", "categories": ["female", "male"]},
//	   {"name": "age", "type": "numeric", "label": "Age", "unit": "years", "min": 18, "max": 100}],
//	 "endpoints": [{"name": "OS", "label": "Overall survival", "horizon_days": 2190}]}
//
// An endpoint's optional horizon_days (or a top-level "horizon_days" for every endpoint that
// gives none) declares the study's follow-up horizon: differentially private survival
// releases have bins up to it instead of the site policy's dp_horizon_days. It must be public
// — from the study's protocol (accrual period and data cut), never read off the data — and it
// is part of the dictionary, so every site of the study uses the same one.
//
// Unknown fields are refused, so a misspelt "categores" is not silently ignored.
func ReadDictionary(r io.Reader) (Dictionary, error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			return Dictionary{}, &ImportError{Line: 1, Reason: "empty dictionary"}
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' {
			br.ReadByte()
			continue
		}
		if b[0] == '{' {
			return readJSONDictionary(br)
		}
		break
	}
	cr := csv.NewReader(br)
	recs, err := cr.ReadAll()
	if err != nil {
		return Dictionary{}, csvError(err)
	}
	if len(recs) == 0 || len(recs[0]) != 3 || strings.TrimPrefix(recs[0][0], "\ufeff") != "name" || recs[0][1] != "label" || recs[0][2] != "unit" {
		return Dictionary{}, &ImportError{Line: 1, Reason: `dictionary must be JSON ({"version": …, "variables": […]}) or a CSV with the header name,label,unit`}
	}
	var d Dictionary
	for k, r := range recs[1:] {
		e := DictionaryEntry{Name: strings.TrimSpace(r[0]), Label: strings.TrimSpace(r[1]), Unit: strings.TrimSpace(r[2])}
		if err := checkEntry(e); err != nil {
			err.Line = k + 2
			return Dictionary{}, err
		}
		d.Entries = append(d.Entries, e)
	}
	if err := d.check(); err != nil {
		return Dictionary{}, err
	}
	return d, nil
}

func readJSONDictionary(r io.Reader) (Dictionary, error) {
	var f struct {
		Study       string   `json:"study"`
		Version     string   `json:"version"`
		Title       string   `json:"title"`
		HorizonDays *float64 `json:"horizon_days"`
		Variables   []struct {
			Name       string                `json:"name"`
			Type       protocol.VariableType `json:"type"`
			Label      string                `json:"label"`
			Unit       string                `json:"unit"`
			Categories []string              `json:"categories"`
			Min        *float64              `json:"min"`
			Max        *float64              `json:"max"`
			Discrete   bool                  `json:"discrete"`
			Panel      string                `json:"panel"`
		} `json:"variables"`
		Endpoints []struct {
			Name        string   `json:"name"`
			Label       string   `json:"label"`
			Unit        string   `json:"unit"`
			HorizonDays *float64 `json:"horizon_days"`
		} `json:"endpoints"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Dictionary{}, &ImportError{Reason: "dictionary: " + err.Error()}
	}
	if dec.More() {
		return Dictionary{}, &ImportError{Reason: "dictionary: trailing data after the JSON object"}
	}
	d := Dictionary{Study: f.Study, Version: f.Version, Title: f.Title, HorizonDays: f.HorizonDays}
	for _, v := range f.Variables {
		d.Entries = append(d.Entries, DictionaryEntry{Name: v.Name, Type: v.Type, Label: v.Label, Unit: v.Unit, Categories: v.Categories, Min: v.Min, Max: v.Max, Discrete: v.Discrete, Panel: v.Panel})
	}
	for _, e := range f.Endpoints {
		d.Entries = append(d.Entries, DictionaryEntry{Name: e.Name, Endpoint: true, Label: e.Label, Unit: e.Unit, HorizonDays: e.HorizonDays})
	}
	if err := d.check(); err != nil {
		return Dictionary{}, err
	}
	return d, nil
}

// ParseCategories parses VAR=a,b,c (as given to --categories): a categorical variable and its
// categories in the study's order.
func ParseCategories(s string) (name string, categories []string, err error) {
	name, list, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(list) == "" {
		return "", nil, &ImportError{Reason: fmt.Sprintf("categories %q: want VAR=a,b,c", s)}
	}
	for _, c := range strings.Split(list, ",") {
		categories = append(categories, strings.TrimSpace(c))
	}
	return name, categories, nil
}

// AddCategories declares the categories of variable name (--categories): on the variable's
// entry when the dictionary has one without categories, else as a new entry. Declaring a
// variable's categories twice, or categories of a numeric variable, is refused.
func (d *Dictionary) AddCategories(name string, categories []string) error {
	for i := range d.Entries {
		e := &d.Entries[i]
		if e.Name != name || e.Endpoint {
			continue
		}
		if e.Categories != nil || e.Type == protocol.Numeric || e.Min != nil || e.Max != nil {
			return &ImportError{Column: name, Reason: "categories declared twice (the dictionary already declares this variable's type or categories)"}
		}
		e.Type, e.Categories = protocol.Categorical, categories
		return checkEntryErr(*e)
	}
	e := DictionaryEntry{Name: name, Type: protocol.Categorical, Categories: categories}
	if err := checkEntryErr(e); err != nil {
		return err
	}
	d.Entries = append(d.Entries, e)
	return nil
}

func checkEntryErr(e DictionaryEntry) error {
	if err := checkEntry(e); err != nil {
		return err
	}
	return nil
}

// Check refuses a malformed dictionary, as ReadDictionary does: for a dictionary built in code
// (an OMOP study definition declares one).
func (d *Dictionary) Check() error { return d.check() }

// check refuses a malformed dictionary: bad names, types, categories or ranges, an entry given
// twice.
func (d *Dictionary) check() error {
	if len(d.Version) > protocol.MaxNameLen || !utf8.ValidString(d.Version) {
		return &ImportError{Reason: "dictionary: version longer than 256 bytes or not UTF-8"}
	}
	if err := checkHorizon("the study", d.HorizonDays); err != nil {
		return err
	}
	seen := map[string]bool{}
	panels := map[string]int{}
	for _, e := range d.Entries {
		if err := checkEntry(e); err != nil {
			return err
		}
		if seen[e.Name] {
			return &ImportError{Column: e.Name, Reason: "dictionary: declared twice"}
		}
		seen[e.Name] = true
		if e.Panel != "" {
			panels[e.Panel]++
		}
	}
	for _, e := range d.Entries {
		if e.Panel != "" && panels[e.Panel] < 2 {
			return &ImportError{Column: e.Name, Reason: fmt.Sprintf("dictionary: panel %q declares one variable (a panel is the variables one test gives together)", e.Panel)}
		}
	}
	return nil
}

// checkEntry refuses a malformed entry.
func checkEntry(e DictionaryEntry) *ImportError {
	bad := func(f string, a ...any) *ImportError {
		return &ImportError{Column: e.Name, Reason: "dictionary: " + fmt.Sprintf(f, a...)}
	}
	if e.Name == "" {
		return &ImportError{Reason: "dictionary entry without a name"}
	}
	if err := checkName("variable", e.Name); err != nil {
		return err.(*ImportError)
	}
	if len(e.Label) > protocol.MaxNameLen || len(e.Unit) > protocol.MaxNameLen || !utf8.ValidString(e.Label+e.Unit) {
		return bad("label and unit at most 256 bytes of UTF-8")
	}
	if e.Panel != "" && (e.Endpoint || len(e.Panel) > protocol.MaxNameLen || !utf8.ValidString(e.Panel) || e.Panel != strings.TrimSpace(e.Panel)) {
		return bad("panel %q: for variables only, at most 256 bytes of UTF-8 without padding", e.Panel)
	}
	if e.Endpoint {
		if e.Unit != "" && e.Unit != "days" {
			return bad("an endpoint is in days, not %q", e.Unit)
		}
		if err := checkHorizon(fmt.Sprintf("endpoint %q", e.Name), e.HorizonDays); err != nil {
			err.Column = e.Name
			return err
		}
		return nil
	}
	if e.HorizonDays != nil {
		return bad("horizon_days is declared for endpoints only")
	}
	switch e.Type {
	case "", protocol.Categorical, protocol.Numeric:
	default:
		return bad("type %q: want categorical or numeric", e.Type)
	}
	ranged := e.Min != nil || e.Max != nil
	if e.Categories != nil {
		if e.Type == protocol.Numeric || ranged {
			return bad("categories given to a numeric variable")
		}
		if len(e.Categories) == 0 || len(e.Categories) > maxDeclaredCategories {
			return bad("1 to %d categories needed", maxDeclaredCategories)
		}
		dup := map[string]bool{}
		for _, c := range e.Categories {
			if c == "" || c != strings.TrimSpace(c) || len(c) > protocol.MaxNameLen || !utf8.ValidString(c) {
				return bad("category %q: empty, padded with spaces, longer than 256 bytes or not UTF-8", c)
			}
			if dup[c] {
				return bad("category %q declared twice", c)
			}
			dup[c] = true
		}
	} else if e.Type == protocol.Categorical {
		return bad("a categorical variable needs its declared categories")
	}
	for _, b := range []*float64{e.Min, e.Max} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			return bad("range bound is not finite")
		}
	}
	if e.Min != nil && e.Max != nil && *e.Min > *e.Max {
		return bad("range min %v above max %v", *e.Min, *e.Max)
	}
	if e.Discrete {
		if e.Categories != nil || e.Type == protocol.Categorical {
			return bad("discrete is declared for numeric variables only")
		}
		if e.Min == nil || e.Max == nil || *e.Min != math.Trunc(*e.Min) || *e.Max != math.Trunc(*e.Max) || *e.Max-*e.Min+1 > protocol.MaxDiscreteValues {
			return bad("a discrete variable needs a declared range of whole numbers, min to max, with at most %d values", protocol.MaxDiscreteValues)
		}
	}
	return nil
}

// declaration is what the dictionary says of one CSV variable (nil entry: undeclared).
type declaration struct {
	entry *DictionaryEntry
	label string
	unit  string
}

// resolveDictionary matches the dictionary's entries to the source's variables and endpoints:
// per variable its entry (nil when undeclared), per endpoint its label, and the declared
// variables' order. An entry naming neither a variable nor an endpoint is refused: a
// dictionary is the study's, and a site's file lacking a declared column is an error (an
// empty column says the site does not collect it).
// An endpoint's horizon is its entry's, else the dictionary's study-wide one (nil: none).
func resolveDictionary(d Dictionary, vars, eps []string) (decl []*DictionaryEntry, epLabels []string, epHorizons []*float64, order []int, err error) {
	vi := map[string]int{}
	for j, v := range vars {
		vi[v] = j
	}
	ei := map[string]int{}
	for k, e := range eps {
		ei[e] = k
	}
	decl = make([]*DictionaryEntry, len(vars))
	epLabels = make([]string, len(eps))
	epHorizons = make([]*float64, len(eps))
	for k := range epHorizons {
		epHorizons[k] = d.HorizonDays
	}
	for i := range d.Entries {
		e := &d.Entries[i]
		j, isVar := vi[e.Name]
		k, isEp := ei[e.Name]
		switch {
		case isVar && !e.Endpoint:
			if decl[j] != nil {
				return nil, nil, nil, nil, &ImportError{Column: e.Name, Reason: "dictionary: declared twice"}
			}
			decl[j] = e
			order = append(order, j)
		case isEp && (e.Endpoint || (e.Type == "" && e.Categories == nil && e.Min == nil && e.Max == nil)):
			if e.Unit != "" && e.Unit != "days" {
				return nil, nil, nil, nil, &ImportError{Reason: fmt.Sprintf("dictionary: endpoint %q is in days, not %q", e.Name, e.Unit)}
			}
			epLabels[k] = e.Label
			if e.HorizonDays != nil {
				epHorizons[k] = e.HorizonDays
			}
		case e.Endpoint:
			return nil, nil, nil, nil, &ImportError{Reason: fmt.Sprintf("dictionary: endpoint %q is not an endpoint of the import (--endpoint)", e.Name)}
		default:
			return nil, nil, nil, nil, &ImportError{Line: 1, Column: e.Name, Reason: "declared in the dictionary but not a variable of the file (a site that does not collect it gives an empty column)"}
		}
	}
	declared := map[int]bool{}
	for _, j := range order {
		declared[j] = true
	}
	for j := range vars {
		if !declared[j] {
			order = append(order, j)
		}
	}
	return decl, epLabels, epHorizons, order, nil
}
