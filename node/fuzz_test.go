package node

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// FuzzDecodeQuery: whatever bytes arrive, the node answers with a JSON reply that either
// carries a coded error and no payload, or a payload and no error — and never panics.
func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{
		`{"version":"v1","kind":"count","study":"lung","group_by":"sex"}`,
		`{"version":"v1","kind":"survival","study":"lung","endpoint":"OS","cohort":{"op":"and","args":[{"op":"eq","var":"sex","value":"male"},{"op":"range","var":"age","min":60}]}}`,
		`{"version":"v1","kind":"summary","study":"lung","variables":["age","ecog"],"bins":[{"variable":"age","edges":[50,60,70]}]}`,
		`{"version":"v1","kind":"cox","study":"lung","endpoint":"OS","cox":{"form":"pooled","ties":"efron","covariates":["sex","age"],"beta":[0.1,0.01]}}`,
		`{"version":"v1","kind":"catalog"}`,
		`{"version":"v1","kind":"count","study":"lung","cohort":{"op":"not","args":[{"op":"missing","var":"wt.loss"}]}}`,
		`{"version":"v1","kind":"count","study":"lung","cohort":{"op":"range","var":"age","min":1e308,"max":-1e308}}`,
		`{"version":"v1","kind":"count","study":"lung","feasibility":true,"cohort":{"op":"range","var":"age","min":60}}`,
		`{"version":"v1","kind":"count","study":"lung","feasibility":true,"group_by":"sex"}`,
		`{"version":"v1","kind":"survival","study":"lung","endpoint":"OS","feasibility":true}`,
		`{"kind":"count"`, `{}`, `"x"`, `{"version":"v1","kind":"cox","study":"lung","cox":null}`,
	} {
		f.Add([]byte(s))
	}
	pol := ExactPolicy()
	pol.MinCohort, pol.MinCell = 3, 3
	e, _ := lungEngine(f, pol, nil)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := e.HandleJSON(ctx, msg)
		var r protocol.Reply
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("reply is not JSON: %v", err)
		}
		payloads := 0
		for _, p := range []bool{r.Catalog != nil, r.Count != nil, r.Summary != nil, r.Survival != nil, r.Cox != nil} {
			if p {
				payloads++
			}
		}
		if r.Error != nil && payloads != 0 || r.Error == nil && payloads != 1 {
			t.Fatalf("reply with error %v and %d payloads", r.Error, payloads)
		}
		if r.Error != nil {
			switch r.Error.Code {
			case protocol.CodeInvalid, protocol.CodeNotFound, protocol.CodeRefusedByPolicy, protocol.CodeUnsupported:
			default:
				t.Fatalf("unexpected code %v", r.Error)
			}
		}
		if r.Count != nil && (r.Count.Total.N < 0 || r.Count.Total.N > 227) {
			t.Fatalf("count %d", r.Count.Total.N)
		}
	})
}

// FuzzFilter: the bitset evaluation of any well-formed filter equals a row-by-row reading of
// the filter's definition.
func FuzzFilter(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{5, 0, 1, 7, 2, 9, 3, 4})
	f.Add([]byte{1, 1, 1, 2, 6, 200, 3, 40, 8, 9})
	f.Add([]byte{2, 3, 250, 0, 7, 7, 7, 1, 4, 4})
	e, _ := lungEngine(f, ExactPolicy(), nil)
	ls, err := e.study(context.Background(), "lung")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		g := &filterGen{ls: ls, b: prog}
		flt := g.filter(0)
		if err := protocol.ValidateFilter(flt); err != nil {
			return // the generator can exceed the size limits; refusing is right
		}
		if err := ls.checkFilterNames(flt, "cohort"); err != nil {
			t.Fatalf("generated filter refused: %v", err)
		}
		got := ls.evalFilter(flt)
		for i := 0; i < ls.data.Len(); i++ {
			if got.has(i) != matchRow(ls, flt, i) {
				b, _ := json.Marshal(flt)
				t.Fatalf("row %d: bitset %v, definition %v for %s", i, got.has(i), !got.has(i), b)
			}
		}
		for i := ls.data.Len(); i < len(got)*64; i++ {
			if got.has(i) {
				t.Fatalf("bit %d beyond the last patient is set", i)
			}
		}
	})
}

// matchRow is the filter language's definition, one patient at a time.
func matchRow(ls *loadedStudy, f *protocol.Filter, i int) bool {
	switch f.Op {
	case protocol.OpAnd:
		for _, a := range f.Args {
			if !matchRow(ls, a, i) {
				return false
			}
		}
		return true
	case protocol.OpOr:
		for _, a := range f.Args {
			if matchRow(ls, a, i) {
				return true
			}
		}
		return false
	case protocol.OpNot:
		return !matchRow(ls, f.Args[0], i)
	}
	v := ls.vars[f.Var]
	missing := v.Missing(i)
	switch f.Op {
	case protocol.OpMissing:
		return missing
	case protocol.OpPresent:
		return !missing
	case protocol.OpEq:
		return !missing && v.Categories[v.Codes[i]] == f.Value
	case protocol.OpIn:
		if missing {
			return false
		}
		for _, s := range f.Values {
			if v.Categories[v.Codes[i]] == s {
				return true
			}
		}
		return false
	case protocol.OpRange:
		if missing {
			return false
		}
		x := v.Numeric[i]
		if f.Min != nil && (x < *f.Min || f.MinOpen && x == *f.Min) {
			return false
		}
		if f.Max != nil && (x > *f.Max || f.MaxOpen && x == *f.Max) {
			return false
		}
		return true
	}
	panic("unknown op")
}

// filterGen turns fuzz bytes into a well-formed filter over the study's variables.
type filterGen struct {
	ls *loadedStudy
	b  []byte
}

func (g *filterGen) next() int {
	if len(g.b) == 0 {
		return 0
	}
	v := int(g.b[0])
	g.b = g.b[1:]
	return v
}

func (g *filterGen) filter(depth int) *protocol.Filter {
	vars := g.ls.data.Variables
	op := g.next() % 8
	if depth > 5 && op < 3 {
		op += 3
	}
	switch op {
	case 0, 1:
		n := 1 + g.next()%3
		f := &protocol.Filter{Op: protocol.OpAnd}
		if op == 1 {
			f.Op = protocol.OpOr
		}
		for k := 0; k < n; k++ {
			f.Args = append(f.Args, g.filter(depth+1))
		}
		return f
	case 2:
		return &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{g.filter(depth + 1)}}
	case 3:
		return &protocol.Filter{Op: protocol.OpMissing, Var: vars[g.next()%len(vars)].Name}
	case 4:
		return &protocol.Filter{Op: protocol.OpPresent, Var: vars[g.next()%len(vars)].Name}
	}
	var cat, num []*VariableData
	for i := range vars {
		if vars[i].Type == protocol.Categorical {
			cat = append(cat, &vars[i])
		} else {
			num = append(num, &vars[i])
		}
	}
	if op == 5 || op == 6 {
		v := cat[g.next()%len(cat)]
		if op == 5 {
			return &protocol.Filter{Op: protocol.OpEq, Var: v.Name, Value: v.Categories[g.next()%len(v.Categories)]}
		}
		f := &protocol.Filter{Op: protocol.OpIn, Var: v.Name}
		for k := 0; k <= g.next()%3; k++ {
			f.Values = append(f.Values, v.Categories[g.next()%len(v.Categories)])
		}
		return f
	}
	v := num[g.next()%len(num)]
	f := &protocol.Filter{Op: protocol.OpRange, Var: v.Name}
	mode := g.next()
	lo := float64(g.next()) // lung values lie in 0..255 mostly (age, karno, wt.loss)
	hi := lo + float64(g.next())
	if mode&1 != 0 || mode&2 == 0 {
		f.Min = &lo
		f.MinOpen = mode&4 != 0
	}
	if mode&2 != 0 {
		f.Max = &hi
		f.MaxOpen = mode&8 != 0
	}
	return f
}

// FuzzImportCSV: any CSV is either refused with a coded error (nothing stored) or stored such
// that reading it back gives the same study; the importer never panics.
func FuzzImportCSV(f *testing.F) {
	f.Add("pid,t,e,sex,age\n1,10,1,m,60\n2,20,0,f,\n")
	f.Add("pid,t,e\n1,1,true\n")
	f.Add("pid,t,e,x\n1,1,1,\"a,b\"\n2,2,0,\"multi\nline\"\n")
	f.Add("pid,t,e\n1,-1,1\n")
	f.Add("pid,t,e\n1,1,1\n1,2,0\n")
	f.Add("t,e\n1,1\n")
	f.Add("\ufeffpid,t,e,v\n a ,1e2,0,NaN\n")
	dir := f.TempDir()
	store := openStore(f, filepath.Join(dir, "fuzz.db"))
	spec := ImportSpec{Study: "s", IDColumn: "pid", DataCut: "2021-06-30", Endpoints: []EndpointSpec{{"OS", "t", "e"}}}
	f.Fuzz(func(t *testing.T, data string) {
		ctx := context.Background()
		store.DeleteStudy(ctx, "s")
		rep, err := ImportCSV(ctx, store, spec, strings.NewReader(data))
		if err != nil {
			if ErrorCode(err) != protocol.CodeInvalid {
				t.Fatalf("error without code invalid: %v", err)
			}
			if infos, _ := store.Studies(ctx); len(infos) != 0 {
				t.Fatal("refused import stored a study")
			}
			return
		}
		st, info, err := store.LoadStudy(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		if info.Patients != rep.Patients || st.Len() != rep.Patients {
			t.Fatalf("%d patients reported, %d stored", rep.Patients, st.Len())
		}
		for _, v := range st.Variables {
			for i := 0; i < st.Len(); i++ {
				if v.Type == protocol.Numeric && math.IsInf(v.Numeric[i], 0) {
					t.Fatal("infinite value stored")
				}
				if v.Type == protocol.Categorical && v.Codes[i] >= int32(len(v.Categories)) {
					t.Fatal("category code out of range")
				}
			}
		}
		for _, tm := range st.Endpoints[0].Time {
			if !(tm >= 0) || math.IsInf(tm, 0) {
				t.Fatalf("time %v stored", tm)
			}
		}
		ids := map[string]bool{}
		for _, id := range st.IDs {
			if id == "" || ids[id] {
				t.Fatalf("empty or duplicate id %q stored", id)
			}
			ids[id] = true
		}
		var a, b bytes.Buffer
		json.NewEncoder(&a).Encode(rep.Variables)
		var vs []protocol.Variable
		for _, v := range st.Variables {
			vs = append(vs, v.Variable)
		}
		json.NewEncoder(&b).Encode(vs)
		if a.String() != b.String() {
			t.Fatalf("dictionary changed on the way through the store:\n%s\n%s", a.String(), b.String())
		}
	})
}
