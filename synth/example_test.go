package synth_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/oncofed/oncofed/synth"
)

// Stream a federation column by column, as a benchmark does, without going through CSV.
func ExampleGenerator_Stream() {
	g, err := synth.New(synth.Spec{Study: synth.MM, Sites: 4, Patients: 100000, Seed: 1})
	if err != nil {
		panic(err)
	}
	perSite := map[string]int{}
	err = g.Stream(1<<14, func(c *synth.Cohort) error {
		for i := 0; i < c.Len(); i++ {
			if c.PFSDays[i] > c.OSDays[i] {
				return fmt.Errorf("%s: PFS after OS", c.ID(i))
			}
		}
		perSite[c.Site.Name] += c.Len()
		return nil
	})
	if err != nil {
		panic(err)
	}
	for _, s := range g.Sites() {
		fmt.Println(s.Name, s.Kind, perSite[s.Name] == s.Patients)
	}
	// Output:
	// north-academic academic true
	// riverside-general community true
	// lakeside-community community true
	// valley-regional community true
}

// Write one hospital as the CSV the node imports, and the import command for it.
func ExampleGenerator_WriteCSV() {
	g, err := synth.New(synth.Spec{Study: synth.MPM, SiteSizes: []int{120, 40}, Seed: 1})
	if err != nil {
		panic(err)
	}
	f, err := os.CreateTemp("", "site-*.csv")
	if err != nil {
		panic(err)
	}
	defer os.Remove(f.Name())
	if err := g.WriteCSV(f, 1); err != nil {
		panic(err)
	}
	f.Close()
	fmt.Println(strings.Join(g.Schema().Header(), ","))
	fmt.Println("oncofed-node import", strings.Join(g.ImportSpec(1).Args("site.db", "site.csv"), " "))
	// Output:
	// id,age,sex,histology,stage,ecog,bap1,treatment,dx_year,os_days,os_event,pfs_days,pfs_event
	// oncofed-node import --db site.db --study mpm --csv site.csv --id id --endpoint OS=os_days:os_event --endpoint PFS=pfs_days:pfs_event --causes PFS=1:progression,2:death --site riverside-general --data-cut 2026-06-30
}
