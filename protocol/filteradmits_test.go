package protocol

import "testing"

func TestFilterAdmits(t *testing.T) {
	for _, c := range []struct {
		filter string
		level  string
		want   bool
	}{
		{"", "IIIB", true},
		{"stage in (IVA, IVB)", "IIIB", false},
		{"stage in (IVA, IVB)", "IVA", true},
		{"stage = IVA and age >= 60", "IVB", false},
		{"stage = IVA and age >= 60", "IVA", true},
		{"stage = IVA or age >= 60", "IVB", true}, // an older IVB patient is in
		{"not stage = IVA", "IVA", false},
		{"not (stage = IVA and age >= 60)", "IVA", true},
		{"stage is missing", "IVA", false},
		{"stage is not missing and sex = female", "IVA", true},
		{"sex = female", "IVA", true},
		{"(stage = IIIB or stage = IIIC) and not stage = IIIC", "IIIC", false},
	} {
		var f *Filter
		if c.filter != "" {
			var err error
			if f, err = ParseFilter(c.filter); err != nil {
				t.Fatalf("%s: %v", c.filter, err)
			}
		}
		if got := f.Admits("stage", c.level); got != c.want {
			t.Errorf("%q admits stage %s = %v, want %v", c.filter, c.level, got, c.want)
		}
	}
}
