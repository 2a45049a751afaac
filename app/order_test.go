package app

import (
	"slices"
	"strings"
	"testing"
)

func groupNames(r *Result) []string {
	var out []string
	for _, g := range r.KM.Groups {
		out = append(out, g.Group)
	}
	return out
}

// InOrder lists the named groups first, then the rest in the declared order, and leaves the
// result it was given alone.
func TestInOrder(t *testing.T) {
	r := &Result{KM: &KMResult{Groups: []KMGroup{{Group: "I"}, {Group: "II"}, {Group: "III"}, {Group: "IV"}}}}
	for _, c := range []struct {
		order, want []string
	}{
		{nil, []string{"I", "II", "III", "IV"}},
		{[]string{"IV", "III", "II", "I"}, []string{"IV", "III", "II", "I"}},
		{[]string{"III"}, []string{"III", "I", "II", "IV"}},
		{[]string{"V", "II", "II"}, []string{"II", "I", "III", "IV"}},
	} {
		if got := groupNames(InOrder(r, c.order)); !slices.Equal(got, c.want) {
			t.Errorf("InOrder %v: %v, want %v", c.order, got, c.want)
		}
	}
	if got := groupNames(r); !slices.Equal(got, []string{"I", "II", "III", "IV"}) {
		t.Errorf("the result was changed: %v", got)
	}
	if InOrder(&Result{}, []string{"I"}).KM != nil {
		t.Error("a result without KM gained one")
	}
}

func TestParseOrder(t *testing.T) {
	groups := []string{"I", "II", "III–IV"}
	if got, err := ParseOrder(" III–IV , I ", groups); err != nil || !slices.Equal(got, []string{"III–IV", "I"}) {
		t.Errorf("ParseOrder: %v %v", got, err)
	}
	for s, want := range map[string]string{
		"IV":   `"IV" is not a group (the groups are I, II, III–IV)`,
		"I,I":  `"I" is listed twice`,
		"I,,V": `"V" is not a group`,
	} {
		if _, err := ParseOrder(s, groups); err == nil || !strings.Contains(ErrorMessage(err), want) {
			t.Errorf("ParseOrder %q: %v, want %q", s, err, want)
		}
	}
}
