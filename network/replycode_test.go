package network

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

func TestReplyCode(t *testing.T) {
	encode := func(r protocol.Reply) []byte {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name  string
		reply []byte
		want  string
	}{
		{"success with payload", encode(protocol.Reply{Version: protocol.Version, Site: "a", Kind: protocol.KindCount,
			Count: &protocol.CountReply{Total: protocol.Count{N: 12}}}), ""},
		{"refusal", encode(protocol.Reply{Version: protocol.Version, Site: "a",
			Error: &protocol.Error{Code: protocol.CodeRefusedByPolicy, Message: "cohort below 10"}}), protocol.CodeRefusedByPolicy},
		{"error without code", []byte(`{"version":"v1","error":{"message":"x"}}`), protocol.CodeInternal},
		{"error after a non-payload key", []byte(`{"policy":{"bin_days":7},"notes":[1,2],"error":{"code":"not_found"}}`), protocol.CodeNotFound},
		{"not JSON", []byte(`nope`), ""},
		{"truncated", []byte(`{"version":"v1","error":`), ""},
		{"null error", []byte(`{"error":null,"count":{}}`), ""},
	}
	for _, c := range cases {
		if got := replyCode(c.reply); got != c.want {
			t.Errorf("%s: replyCode = %q, want %q", c.name, got, c.want)
		}
	}
}

// replyCode stops at the first payload key; that is right only while protocol.Reply
// declares Error before every payload (encoding/json writes fields in declaration order).
func TestReplyErrorPrecedesPayloads(t *testing.T) {
	rt := reflect.TypeFor[protocol.Reply]()
	errorAt := -1
	for i := range rt.NumField() {
		f := rt.Field(i)
		switch f.Name {
		case "Error":
			errorAt = i
		case "Catalog", "Count", "Summary", "Survival", "Cox":
			if errorAt < 0 {
				t.Errorf("protocol.Reply declares %s before Error: replyCode would miss errors", f.Name)
			}
		}
	}
	if errorAt < 0 {
		t.Fatal("protocol.Reply has no Error field")
	}
}
