package report

import "github.com/oncofed/oncofed/app"

// Names are the words a study's dictionary gives its codes: the study's title, variables'
// and endpoints' labels. A nil study (none in the catalog at hand) names everything by code.
type Names struct{ From *app.Study }

// Study is "Advanced NSCLC, first line" (the study's title) or its name.
func (n Names) Study(name string) string {
	if n.From != nil && n.From.Title != "" {
		return n.From.Title
	}
	return name
}

// Variable is a variable's label ("PD-L1 tumour proportion score, %") or its name.
func (n Names) Variable(name string) string {
	if n.From != nil {
		if v := n.From.Variable(name); v != nil && v.Label != "" {
			return v.Label
		}
	}
	return name
}

// Endpoint is an endpoint's label, the words of a well-known one ("OS" is "Overall
// survival"), or its name.
func (n Names) Endpoint(name string) string {
	if n.From != nil {
		for _, e := range n.From.Endpoints {
			if e.Name == name && e.Label != "" {
				return e.Label
			}
		}
	}
	if w, ok := endpointWords(name); ok {
		return w
	}
	return name
}

// Causes are the labels of an endpoint's competing causes, in the order of their codes (nil
// when the study declares none or is not at hand).
func (n Names) Causes(endpoint string) []string {
	if n.From != nil {
		for _, e := range n.From.Endpoints {
			if e.Name == endpoint {
				return e.Causes
			}
		}
	}
	return nil
}

// KMTitle titles a Kaplan–Meier figure in words, with the cohort in the CLI's syntax:
// "Overall survival by sex — Advanced NSCLC, first line: age >= 60" ("… : all patients").
func KMTitle(r *app.Result, n Names) string {
	s := n.Endpoint(r.KM.Endpoint)
	if r.Request.GroupBy != "" {
		s += " by " + n.Variable(r.Request.GroupBy)
	}
	return s + " — " + n.Study(r.Request.Study) + ": " + CohortText(r.Request.Cohort)
}
