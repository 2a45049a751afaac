package app_test

import (
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// PerSiteKM: one group's table from each site, named by the site, in site order whatever
// order the replies arrived in; the pooled result is left as it was.
func TestPerSiteKM(t *testing.T) {
	reply := func(site string, n int) protocol.Reply {
		g := func(name string) protocol.SurvivalGroup {
			return protocol.SurvivalGroup{Group: name, Time: protocol.Float64s{10, 20}, Events: protocol.Ints{n, 1}, Censor: protocol.Ints{0, 1}}
		}
		return protocol.Reply{Site: site, Kind: protocol.KindSurvival, Policy: protocol.PolicyEffects{MinCell: 5},
			Survival: &protocol.SurvivalReply{Endpoint: "os", Groups: []protocol.SurvivalGroup{g("f"), g("m")}}}
	}
	r := &app.Result{Request: app.Request{Kind: protocol.KindSurvival, Study: "s", GroupBy: "sex"},
		Rounds: []app.Round{{Replies: []protocol.Reply{reply("zeta", 3), reply("alpha", 4)}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	v, err := app.PerSiteKM(r, "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.KM.Groups) != 2 || v.KM.Groups[0].Group != "alpha" || v.KM.Groups[1].Group != "zeta" ||
		v.KM.Groups[0].Table.Total() != 6 || v.KM.Groups[1].Table.Total() != 5 || v.KM.LogRank == nil ||
		v.KM.StratifiedLogRank != nil || v.Request.GroupBy != "site" || v.Rounds != nil {
		t.Errorf("per-site view %+v, groups %+v", v, v.KM.Groups)
	}
	if r.KM.Groups[0].Group != "f" || r.Request.GroupBy != "sex" {
		t.Errorf("the pooled result changed: %+v", r.KM.Groups)
	}
	if _, err := app.PerSiteKM(r, "x"); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("unknown group: %v", err)
	}
}
