package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func framedSample() Reply {
	return Reply{Version: Version, QueryID: "q1", Site: "s", Kind: KindCox,
		Cox: &CoxReply{Columns: []string{"age", "sexmale"}, N: 6, Events: 3, Rows: sampleCoxRows(), EventXSum: []float64{1, 2}}}
}

// A reply with risk-set rows travels framed (its JSON, 0x00, the rows' binary block) and
// decodes to the reply that was encoded, bit for bit; one without rows is the JSON
// encoding/json writes.
func TestMarshalReplyFramesRows(t *testing.T) {
	in := framedSample()
	b, err := MarshalReply(in)
	if err != nil {
		t.Fatal(err)
	}
	if !IsFramedReply(b) {
		t.Fatal("a reply with rows was not framed")
	}
	head := ReplyJSONHead(b)
	if !json.Valid(head) || strings.Contains(string(head), `"rows":`) || !strings.Contains(string(head), `"rows_framed":`) {
		t.Fatalf("framed head: %s", head)
	}
	if in.Cox.RowsFramed != 0 || len(in.Cox.Rows) != 3 {
		t.Fatal("MarshalReply changed the caller's reply")
	}
	var out Reply
	if err := UnmarshalReply(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the reply:\n in  %+v\n out %+v", in.Cox, out.Cox)
	}

	plain := Reply{Version: Version, QueryID: "q2", Site: "s", Kind: KindCox, Cox: &CoxReply{Columns: []string{"age"}, N: 4, LogLik: -3, Gradient: []float64{1}, Hessian: []float64{2}}}
	b, err = MarshalReply(plain)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(plain)
	if !bytes.Equal(b, want) || IsFramedReply(b) {
		t.Errorf("reply without rows: %s, want %s", b, want)
	}
}

// A screen reply's models each send their rows as a block of their own, in model order.
func TestMarshalReplyFramesScreenModels(t *testing.T) {
	rows := sampleCoxRows()
	in := Reply{Version: Version, QueryID: "q", Site: "s", Kind: KindScreen, Screen: &ScreenReply{Models: []ScreenModelReply{
		{Policy: &PolicyEffects{MinCell: 1}, Cox: &CoxReply{Columns: []string{"m1"}, N: 5, Rows: rows[:2]}},
		{Error: &Error{Code: CodeRefusedByPolicy, Message: "no"}},
		{Policy: &PolicyEffects{MinCell: 1}, Cox: &CoxReply{Columns: []string{"m2"}, N: 5, Rows: rows[1:]}},
		{Policy: &PolicyEffects{MinCell: 1}, Cox: &CoxReply{Columns: []string{"m3"}, N: 5, LogLik: -1, Gradient: []float64{0}, Hessian: []float64{1}}},
	}}}
	b, err := MarshalReply(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Reply
	if err := UnmarshalReply(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the screen reply")
	}
}

// Plain JSON replies decode as they always did, rows inline as base64 or as row objects.
func TestUnmarshalReplyReadsPlainJSON(t *testing.T) {
	in := framedSample()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Reply
	if err := UnmarshalReply(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Error("plain JSON with base64 rows decoded differently")
	}
	objects := `{"version":"` + Version + `","site":"s","kind":"cox","policy":{"bin_days":0,"min_cell":0,"min_cohort":0},"cox":{"columns":["x"],"n":2,"events":1,"excluded":0,"rows":[{"time":3,"d":1,"r0":2,"r1":[1],"r2":[1],"e0":1,"e1":[1],"e2":[1]}]}}`
	out = Reply{}
	if err := UnmarshalReply([]byte(objects), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Cox.Rows) != 1 || out.Cox.Rows[0].E1[0] != 1 {
		t.Errorf("row objects: %+v", out.Cox.Rows)
	}
}

// Every way a frame can lie is refused with a message saying which.
func TestUnmarshalReplyRefusesBadFrames(t *testing.T) {
	good, err := MarshalReply(framedSample())
	if err != nil {
		t.Fatal(err)
	}
	head, blocks, _ := bytes.Cut(good, []byte{0})
	withRows, _ := json.Marshal(framedSample())
	bothHead := bytes.Replace(withRows, []byte(`"rows":`), []byte(`"rows_framed":`+itoa(len(blocks))+`,"rows":`), 1)
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"block missing":     {head, "no binary block follows"},
		"block cut short":   {append(append(append([]byte{}, head...), 0), blocks[:len(blocks)-3]...), "bytes of blocks are left"},
		"trailing bytes":    {append(append([]byte{}, good...), 1, 2), "no rows_framed accounts for"},
		"rows twice":        {append(append(bothHead, 0), blocks...), "both in the JSON and in a binary block"},
		"corrupt block":     {append(append(append([]byte{}, head...), 0), append([]byte{9}, blocks[1:]...)...), "unknown block format"},
		"negative length":   {append(bytes.Replace(head, []byte(`"rows_framed":`), []byte(`"rows_framed":-`), 1), 0), "rows_framed -"},
		"invalid JSON head": {append([]byte(`{"version":`), 0), "unexpected end of JSON"},
	}
	for name, c := range cases {
		var r Reply
		err := UnmarshalReply(c.b, &r)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
