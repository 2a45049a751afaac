package network

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/protocol"
)

// FuzzDecodeReply: whatever a site (or anyone publishing to the client's inbox) sends, the
// client's decoder never panics, and a reply it accepts is attributed to the site named in
// both header and body and has passed protocol.ValidateReply; anything else is reported as a
// problem with a code, never merged.
func FuzzDecodeReply(f *testing.F) {
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q1", Study: "lung", GroupBy: "sex"}
	good, _ := json.Marshal(protocol.Reply{Version: protocol.Version, QueryID: "q1", Site: "inst1", Kind: protocol.KindCount,
		Count: &protocol.CountReply{Total: protocol.Count{N: 9}, Groups: map[string]protocol.Count{"female": {N: 4}, "male": {N: 5}}}})
	f.Add(good, "inst1")
	f.Add(good, "")
	f.Add(good, "inst2")
	f.Add([]byte(`{"version":"v1","query_id":"q1","site":"inst1","kind":"count","count":{"total":{"n":-3}}}`), "inst1")
	f.Add([]byte(`not json`), "inst1")
	f.Add([]byte(`{"version":"v1","query_id":"q1","site":"inst1","kind":"count","error":{"code":"refused_by_policy","message":"x"},"count":{}}`), "inst1")
	f.Fuzz(func(t *testing.T, data []byte, headerSite string) {
		m := &nats.Msg{Data: data, Header: nats.Header{}}
		if headerSite != "" {
			m.Header.Set(HeaderSite, headerSite)
		}
		site, r, problem := decodeReply(q, m)
		if problem != nil {
			if problem.Code == "" || problem.Message == "" {
				t.Fatalf("problem without code or message: %+v", problem)
			}
			return
		}
		if site == "" || r.Site != site || headerSite != "" && site != headerSite {
			t.Fatalf("reply of %q attributed to %q (header %q)", r.Site, site, headerSite)
		}
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Fatalf("accepted a reply that fails validation: %v", err)
		}
	})
}
