package synth

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oncofed/oncofed/protocol"
)

// Study names one of the four cancers the demo network serves.
type Study string

// The four studies.
const (
	NSCLC Study = "nsclc" // advanced non-small-cell lung cancer, first line
	TNBC  Study = "tnbc"  // triple-negative breast cancer, early and metastatic
	MPM   Study = "mpm"   // unresectable malignant pleural mesothelioma, first line
	MM    Study = "mm"    // newly diagnosed multiple myeloma
)

// Studies lists every study in a stable order.
var Studies = []Study{NSCLC, TNBC, MPM, MM}

// ParseStudy returns the study with the given name (case-insensitive).
func ParseStudy(name string) (Study, error) {
	for _, s := range Studies {
		if strings.EqualFold(name, string(s)) {
			return s, nil
		}
	}
	return "", fmt.Errorf("synth: unknown study %q (want one of nsclc, tnbc, mpm, mm)", name)
}

// Variable describes one patient-level column of a study.
type Variable struct {
	Name string
	// Levels lists the categories of a categorical variable in a fixed order; nil for a
	// numeric variable. A categorical Column holds indexes into Levels.
	Levels []string
	Unit   string // numeric variables: unit of measure
	Doc    string // what the variable means, for catalogs and the manifest
	// Min and Max are a numeric variable's declared range: the generator stays within it, and
	// every site of the study declares it in its dictionary.
	Min, Max *float64 `json:",omitempty"`
	// Discrete marks a numeric variable whose values are whole numbers (ECOG, year):
	// declared so in the dictionary, Table 1 counts each value.
	Discrete bool `json:",omitempty"`
	// Panel names the test that gives the variable with others (the NGS panel's EGFR, ALK
	// and KRAS G12C): they are missing together, declared so in the dictionary.
	Panel string `json:",omitempty"`
}

// Categorical reports whether v has categories.
func (v Variable) Categorical() bool { return v.Levels != nil }

// Endpoint names a time-to-event endpoint and the CSV columns that hold it.
type Endpoint struct {
	Name        string // "OS", "PFS"
	TimeColumn  string // days from diagnosis (start of first-line treatment)
	EventColumn string // 1 = event, 0 = censored
}

// Flag returns the endpoint in the node importer's syntax NAME=TIMECOL:EVENTCOL.
func (e Endpoint) Flag() string { return e.Name + "=" + e.TimeColumn + ":" + e.EventColumn }

// Endpoints are the two endpoints every study has. For early TNBC the PFS columns hold
// event-free survival (recurrence, progression or death), as KEYNOTE-522 reports it.
var Endpoints = []Endpoint{
	{Name: "OS", TimeColumn: "os_days", EventColumn: "os_event"},
	{Name: "PFS", TimeColumn: "pfs_days", EventColumn: "pfs_event"},
}

// PFSCauses are the competing causes of PFS in the studies that report them (myeloma and
// mesothelioma, SOURCES.md): the pfs_event column then holds 1 for progression and 2 for
// death before progression, imported with --causes PFS=1:progression,2:death.
var PFSCauses = []string{"progression", "death"}

// IDColumn is the name of the patient identifier column in every CSV.
const IDColumn = "id"

// Schema is the list of variables of a study, in CSV column order (after the id).
type Schema struct {
	Study     Study
	Title     string
	Variables []Variable
}

// Index returns the position of the named variable, or -1.
func (s *Schema) Index(name string) int {
	for i, v := range s.Variables {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// Header returns the CSV header: id, the variables, then the endpoint columns.
func (s *Schema) Header() []string {
	h := []string{IDColumn}
	for _, v := range s.Variables {
		h = append(h, v.Name)
	}
	for _, e := range Endpoints {
		h = append(h, e.TimeColumn, e.EventColumn)
	}
	return h
}

// DictionaryVersion is the declared version of every synthetic study's dictionary.
// synth-2 declared ECOG and the year of diagnosis discrete; synth-3 NSCLC's NGS panel.
const DictionaryVersion = "synth-3"

// Dictionary returns the study's data dictionary in the JSON form `oncofed-node import
// --dictionary` reads (node.ReadDictionary): the study version and title, each variable with its type,
// label (the Doc), unit, categories in the schema's (clinical) order and declared range, and
// the endpoints. Every site of the study imports the same one, so every site publishes the
// same dictionary whatever its patients.
func (s *Schema) Dictionary() []byte {
	d := struct {
		Study     string              `json:"study"`
		Version   string              `json:"version"`
		Title     string              `json:"title,omitempty"`
		Variables []protocol.Variable `json:"variables"`
		Endpoints []protocol.Endpoint `json:"endpoints"`
	}{Study: string(s.Study), Version: DictionaryVersion, Title: s.Title}
	for _, v := range s.Variables {
		dv := protocol.Variable{Name: v.Name, Type: protocol.Numeric, Label: v.Doc, Unit: v.Unit, Min: v.Min, Max: v.Max, Discrete: v.Discrete, Panel: v.Panel}
		if v.Categorical() {
			dv.Type, dv.Categories = protocol.Categorical, v.Levels
		}
		d.Variables = append(d.Variables, dv)
	}
	for _, e := range Endpoints {
		d.Endpoints = append(d.Endpoints, protocol.Endpoint{Name: e.Name})
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic("synth: dictionary: " + err.Error())
	}
	return append(b, '\n')
}

// SchemaOf returns the schema of a study.
func SchemaOf(s Study) (*Schema, error) {
	m, err := modelOf(s)
	if err != nil {
		return nil, err
	}
	return m.schema, nil
}

// SchemaWithMarkers returns the schema of a study with its candidate markers (Spec.Markers)
// after its own variables.
func SchemaWithMarkers(s Study) (*Schema, error) {
	m, err := modelOf(s)
	if err != nil {
		return nil, err
	}
	return markersOf(s, m, 0).schema, nil
}
