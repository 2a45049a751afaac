package node_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// A site imports its CSV once, then answers aggregate queries under its policy.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "oncofed-example")
	defer os.RemoveAll(dir)
	store, err := node.OpenSQLite(filepath.Join(dir, "riverside.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	csv := "pid,os_days,os_event,sex\n" +
		"1,120,1,female\n2,340,0,male\n3,200,1,male\n4,90,1,female\n5,400,0,male\n"
	// The study's categories are declared (the same at every site of the study), not read
	// off the rows: --categories sex=female,male, or a dictionary file (node.ReadDictionary).
	dict := node.Dictionary{Version: "1"}
	if err := dict.AddCategories("sex", []string{"female", "male"}); err != nil {
		log.Fatal(err)
	}
	spec := node.ImportSpec{Study: "demo", IDColumn: "pid", DataCut: "2025-06-30", Dictionary: dict,
		Endpoints: []node.EndpointSpec{{Name: "OS", TimeColumn: "os_days", EventColumn: "os_event"}}}
	rep, err := node.ImportCSV(ctx, store, spec, strings.NewReader(csv))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("imported", rep.Patients, "patients")

	policy := node.ExactPolicy() // a trusted network: exact tables
	engine, err := node.NewEngine(ctx, store, node.Config{InsecureOpen: true, Policy: &policy})
	if err != nil {
		log.Fatal(err)
	}
	reply := engine.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival,
		Study: "demo", Endpoint: "OS", GroupBy: "sex", Analyst: "alice"})
	for _, g := range reply.Survival.Groups {
		fmt.Println(reply.Site, g.Group, g.Time, g.Events, g.Censor)
	}

	// Under the default policy the same five patients are too few to say anything about.
	strict := node.DefaultPolicy()
	guarded, _ := node.NewEngine(ctx, store, node.Config{InsecureOpen: true, Policy: &strict})
	fmt.Println(guarded.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, Study: "demo"}).Error)
	// Output:
	// imported 5 patients
	// riverside female [90 120] [1 1] [0 0]
	// riverside male [200 340 400] [1 0 0] [0 1 1]
	// refused_by_policy: cohort has fewer than min_cohort=10 patients
}
