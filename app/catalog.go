package app

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// NetworkInfo is a network the analyst has connected to. It holds no credentials: those stay
// in the OS keychain or a credentials file named on the command line.
type NetworkInfo struct {
	ID            string // stable key in the cache, e.g. "demo" or the hub URL
	Name          string
	URL           string // hub URL; empty for the embedded demo
	Demo          bool
	LastConnected time.Time
}

// SiteRecord is what the cache remembers about a site: its last seen status and what its
// catalog published (data cut per study, policy).
type SiteRecord struct {
	Site     string
	Online   bool
	Latency  time.Duration
	LastSeen time.Time
	Studies  []string
	Policy   *protocol.Policy  // nil until a catalog from the site was seen
	DataCuts map[string]string // study → YYYY-MM-DD, from the catalog
}

// Catalog is the study catalog of a network: every site's published catalog, as released, and
// their merge. Sites that did not answer the catalog query are listed in Missing.
type Catalog struct {
	FetchedAt time.Time
	Sites     []protocol.Catalog // one per answering site, sorted by site
	Missing   []string           // sites expected but not answering when fetched
	Studies   []Study            // merged view, sorted by name (see MergeCatalogs)
}

// Study is one study merged across the sites that hold it.
type Study struct {
	Name string
	// Title is the study's title in words as its sites declare it (the first site's in site
	// order that declares one), "" when none does.
	Title string
	// Sites holding the study, sorted.
	Sites []string
	// DataCut per site (YYYY-MM-DD).
	DataCut map[string]string
	// Patients is the sum of released counts; when a site's count is suppressed the sum is a
	// lower bound and PatientsAtLeast is true.
	Patients        int
	PatientsAtLeast bool
	Variables       []Variable // sorted by name
	Endpoints       []Endpoint // sorted by name
	// Dictionaries are the distinct dictionaries the sites publish for the study (version and
	// hash), the one most sites publish first. Every site of a study should publish the same
	// one; more than one means they disagree (DictionaryWarning says how), and merged
	// results mix definitions.
	Dictionaries []StudyDictionary
}

// StudyDictionary is one dictionary of a study as published by some of its sites.
type StudyDictionary struct {
	Version string // declared study version ("" when none)
	// Hash is protocol.DictionaryHash of what the sites list, computed here.
	Hash  string
	Sites []string // sorted
	// Unverified lists sites whose published hash is not the hash of what they list (a
	// site's bug or a lie); their dictionary is taken from what they list.
	Unverified []string
	// Undeclared: the sites imported the study before dictionaries were declared, so their
	// categories are read off their own rows (and tell what they hold).
	Undeclared bool
}

// DictionaryWarning describes, for a label next to the study, how its sites' dictionaries
// disagree, or returns "" when every site publishes the same declared dictionary.
func (s *Study) DictionaryWarning() string {
	var parts []string
	for _, d := range s.Dictionaries {
		v := "no declared version"
		if d.Version != "" {
			v = "version " + d.Version
		}
		h := d.Hash
		if len(h) > 12 {
			h = h[:12]
		}
		text := fmt.Sprintf("%s (dictionary %s): %s", v, h, strings.Join(d.Sites, ", "))
		if d.Undeclared {
			text += " — categories read off the site's rows, not declared"
		}
		if len(d.Unverified) > 0 {
			text += fmt.Sprintf(" — published hash does not match at %s", strings.Join(d.Unverified, ", "))
		}
		parts = append(parts, text)
	}
	switch {
	case len(s.Dictionaries) > 1:
		return fmt.Sprintf("the sites of %s publish %d different dictionaries: %s", s.Name, len(s.Dictionaries), strings.Join(parts, "; "))
	case len(s.Dictionaries) == 1 && (s.Dictionaries[0].Undeclared || len(s.Dictionaries[0].Unverified) > 0):
		return fmt.Sprintf("%s: %s", s.Name, parts[0])
	}
	return ""
}

// Variable is a variable in the union of the sites' data dictionaries. Categories is the
// union of the sites' categories. MissingAt lists the sites of the study that do not have it:
// a cohort filter on it excludes every patient of those sites.
type Variable struct {
	Name  string
	Type  protocol.VariableType
	Label string
	Unit  string
	// Categories are the declared categories in the study's order (the first site's, in name
	// order; categories only other sites list follow, when dictionaries disagree).
	Categories []string
	// Min and Max are a numeric variable's declared range, as the first site publishes it.
	Min, Max *float64
	// Discrete: the values are the whole numbers of the range (protocol.Variable.Discrete),
	// as the first site declares.
	Discrete  bool
	Sites     []string // sites that have it, sorted
	MissingAt []string // sites of the study that lack it, sorted
	// TypeConflict lists "site: type" for sites that declare another type than Type (the
	// type of the first site in name order); such a variable should not be used.
	TypeConflict []string
}

// Endpoint is a time-to-event endpoint in the union of the sites' catalogs.
type Endpoint struct {
	Name      string
	Label     string
	Sites     []string
	MissingAt []string
	// Causes labels the endpoint's competing causes (cause c is Causes[c-1]), as the first
	// site in site order declares them; nil for an endpoint with one kind of event. Sites that
	// declare other causes publish another dictionary (Study.Dictionaries).
	Causes []string
	// DelayedEntryAt lists the sites that record delayed entry for the endpoint (their risk
	// sets hold patients from entry on), sorted.
	DelayedEntryAt []string
}

// Study returns the merged study called name, or nil.
func (c *Catalog) Study(name string) *Study {
	if c == nil {
		return nil
	}
	for i := range c.Studies {
		if c.Studies[i].Name == name {
			return &c.Studies[i]
		}
	}
	return nil
}

// Variable returns the variable called name, or nil.
func (s *Study) Variable(name string) *Variable {
	for i := range s.Variables {
		if s.Variables[i].Name == name {
			return &s.Variables[i]
		}
	}
	return nil
}

// MergeCatalogs builds the merged Catalog of the given per-site catalogs: for each study the
// union of variables (with the union of their categories) and endpoints, and which of the
// study's sites lack each of them. The input is not modified; the result does not depend on
// the order of cats.
func MergeCatalogs(fetchedAt time.Time, cats []protocol.Catalog, missing []string) *Catalog {
	sites := slices.Clone(cats)
	sort.Slice(sites, func(i, j int) bool { return sites[i].Site < sites[j].Site })
	out := &Catalog{FetchedAt: fetchedAt, Sites: sites, Missing: sortedCopy(missing)}

	byName := map[string]*Study{}
	vars := map[string]map[string]*Variable{}
	eps := map[string]map[string]*Endpoint{}
	for _, sc := range sites {
		for _, st := range sc.Studies {
			s := byName[st.Name]
			if s == nil {
				s = &Study{Name: st.Name, DataCut: map[string]string{}}
				byName[st.Name] = s
				vars[st.Name] = map[string]*Variable{}
				eps[st.Name] = map[string]*Endpoint{}
			}
			s.Sites = append(s.Sites, sc.Site)
			s.DataCut[sc.Site] = st.DataCut
			if s.Title == "" {
				s.Title = st.Title
			}
			addDictionary(s, sc.Site, st)
			s.Patients += st.Patients
			s.PatientsAtLeast = s.PatientsAtLeast || st.Suppressed
			for _, v := range st.Variables {
				m := vars[st.Name][v.Name]
				if m == nil {
					m = &Variable{Name: v.Name, Type: v.Type, Label: v.Label, Unit: v.Unit, Min: v.Min, Max: v.Max, Discrete: v.Discrete}
					vars[st.Name][v.Name] = m
				}
				if v.Type != m.Type {
					m.TypeConflict = append(m.TypeConflict, fmt.Sprintf("%s: %s", sc.Site, v.Type))
				}
				if m.Label == "" {
					m.Label = v.Label
				}
				if m.Unit == "" {
					m.Unit = v.Unit
				}
				m.Sites = append(m.Sites, sc.Site)
				m.Categories = orderedUnion(m.Categories, v.Categories)
			}
			for _, e := range st.Endpoints {
				m := eps[st.Name][e.Name]
				if m == nil {
					m = &Endpoint{Name: e.Name, Label: e.Label}
					eps[st.Name][e.Name] = m
				}
				m.Sites = append(m.Sites, sc.Site)
				if m.Causes == nil && len(e.Causes) > 0 {
					m.Causes = append([]string(nil), e.Causes...)
				}
				if slices.Contains(st.DelayedEntry, e.Name) {
					m.DelayedEntryAt = append(m.DelayedEntryAt, sc.Site)
				}
			}
		}
	}
	for name, s := range byName {
		for _, v := range vars[name] {
			v.MissingAt = difference(s.Sites, v.Sites)
			s.Variables = append(s.Variables, *v)
		}
		sort.Slice(s.Variables, func(i, j int) bool { return s.Variables[i].Name < s.Variables[j].Name })
		for _, e := range eps[name] {
			e.MissingAt = difference(s.Sites, e.Sites)
			s.Endpoints = append(s.Endpoints, *e)
		}
		sort.Slice(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].Name < s.Endpoints[j].Name })
		sort.SliceStable(s.Dictionaries, func(i, j int) bool { return len(s.Dictionaries[i].Sites) > len(s.Dictionaries[j].Sites) })
		out.Studies = append(out.Studies, *s)
	}
	sort.Slice(out.Studies, func(i, j int) bool { return out.Studies[i].Name < out.Studies[j].Name })
	return out
}

// addDictionary records which dictionary site publishes for the study: the hash of what it
// lists, computed here, so that a site cannot claim agreement it does not have.
func addDictionary(s *Study, site string, st protocol.StudyCatalog) {
	h := protocol.DictionaryHash(st.StudyVersion, st.Variables, st.Endpoints)
	var d *StudyDictionary
	for i := range s.Dictionaries {
		if s.Dictionaries[i].Hash == h {
			d = &s.Dictionaries[i]
		}
	}
	if d == nil {
		s.Dictionaries = append(s.Dictionaries, StudyDictionary{Version: st.StudyVersion, Hash: h, Undeclared: st.DictionaryHash == ""})
		d = &s.Dictionaries[len(s.Dictionaries)-1]
	}
	d.Sites = append(d.Sites, site)
	if st.DictionaryHash != "" && st.DictionaryHash != h {
		d.Unverified = append(d.Unverified, site)
	}
}

// orderedUnion returns a followed by the elements of b not in a, in their order.
func orderedUnion(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// CatalogChanges lists, in words, what differs between an older and a newer catalog: sites
// that appeared or went away, studies added or removed, data cuts moved, patient counts
// changed, variables, categories and endpoints added or removed. It is empty when nothing
// that matters to the analyst changed.
func CatalogChanges(old, cur *Catalog) []string {
	var out []string
	if old == nil || cur == nil {
		return nil
	}
	oldSites, curSites := catalogSites(old), catalogSites(cur)
	for _, s := range difference(curSites, oldSites) {
		out = append(out, fmt.Sprintf("site %s answered (new)", s))
	}
	for _, s := range difference(oldSites, curSites) {
		out = append(out, fmt.Sprintf("site %s no longer answered", s))
	}
	for _, cs := range cur.Studies {
		os := old.Study(cs.Name)
		if os == nil {
			out = append(out, fmt.Sprintf("study %s added (%d sites)", cs.Name, len(cs.Sites)))
			continue
		}
		for _, site := range cs.Sites {
			if o, ok := os.DataCut[site]; ok && o != cs.DataCut[site] {
				out = append(out, fmt.Sprintf("study %s: site %s data cut %s → %s", cs.Name, site, o, cs.DataCut[site]))
			}
		}
		if w := cs.DictionaryWarning(); w != "" && w != os.DictionaryWarning() {
			out = append(out, "warning: "+w)
		}
		if os.Patients != cs.Patients {
			out = append(out, fmt.Sprintf("study %s: patients %d → %d (%+d)", cs.Name, os.Patients, cs.Patients, cs.Patients-os.Patients))
		}
		for _, v := range cs.Variables {
			ov := os.Variable(v.Name)
			if ov == nil {
				out = append(out, fmt.Sprintf("study %s: variable %s added", cs.Name, v.Name))
				continue
			}
			for _, c := range difference(v.Categories, ov.Categories) {
				out = append(out, fmt.Sprintf("study %s: variable %s: category %s added", cs.Name, v.Name, c))
			}
			for _, c := range difference(ov.Categories, v.Categories) {
				out = append(out, fmt.Sprintf("study %s: variable %s: category %s removed", cs.Name, v.Name, c))
			}
		}
		for _, v := range os.Variables {
			if cs.Variable(v.Name) == nil {
				out = append(out, fmt.Sprintf("study %s: variable %s removed", cs.Name, v.Name))
			}
		}
		oe, ce := endpointNames(os), endpointNames(&cs)
		for _, e := range difference(ce, oe) {
			out = append(out, fmt.Sprintf("study %s: endpoint %s added", cs.Name, e))
		}
		for _, e := range difference(oe, ce) {
			out = append(out, fmt.Sprintf("study %s: endpoint %s removed", cs.Name, e))
		}
	}
	for _, os := range old.Studies {
		if cur.Study(os.Name) == nil {
			out = append(out, fmt.Sprintf("study %s removed", os.Name))
		}
	}
	return out
}

func catalogSites(c *Catalog) []string {
	s := make([]string, len(c.Sites))
	for i, sc := range c.Sites {
		s[i] = sc.Site
	}
	sort.Strings(s)
	return s
}

func endpointNames(s *Study) []string {
	n := make([]string, len(s.Endpoints))
	for i, e := range s.Endpoints {
		n[i] = e.Name
	}
	return n
}

// union returns the sorted union of two string sets.
func union(a, b []string) []string {
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		m[x] = true
	}
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for x := range m {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// difference returns the sorted elements of a not in b.
func difference(a, b []string) []string {
	m := map[string]bool{}
	for _, x := range b {
		m[x] = true
	}
	var out []string
	for _, x := range a {
		if !m[x] {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// StandingText says what the analyst may still ask of the sites holding study, from their
// last catalogs (protocol.Catalog.You): "Your standing: trusted at 6 sites · 487 queries left
// today" or, for a dp analyst, "… · ρ 0.23 left today, 1.98 in all (the smallest of 6
// sites)". Empty when no site told (insecure-open nodes do not).
func (c *Catalog) StandingText(study string) string {
	if c == nil {
		return ""
	}
	roles := map[string]int{}
	queries, sites, dpSites := -1, 0, 0
	var today, total float64
	for _, sc := range c.Sites {
		y := sc.You
		if y == nil || !slices.ContainsFunc(sc.Studies, func(s protocol.StudyCatalog) bool { return s.Name == study }) {
			continue
		}
		sites++
		roles[y.Role]++
		if y.QueriesLeft >= 0 && (queries < 0 || y.QueriesLeft < queries) {
			queries = y.QueriesLeft
		}
		if t, ok := y.RhoLeftToday[study]; ok {
			if dpSites == 0 || t < today {
				today = t
			}
			if a := y.RhoLeftTotal[study]; dpSites == 0 || a < total {
				total = a
			}
			dpSites++
		}
	}
	if sites == 0 {
		return ""
	}
	var parts []string
	for _, r := range sortedKeys(roles) {
		parts = append(parts, fmt.Sprintf("%s at %d of %d sites", r, roles[r], sites))
	}
	if queries >= 0 {
		parts = append(parts, fmt.Sprintf("%d queries left today", queries))
	}
	if dpSites > 0 {
		parts = append(parts, fmt.Sprintf("ρ %.4g left today, %.4g in all (the smallest of %d sites)", today, total, dpSites))
	}
	return "Your standing: " + strings.Join(parts, " · ")
}
