package format_test

import (
	"fmt"

	"github.com/oncofed/oncofed/report/format"
)

func ExamplePValue() {
	fmt.Println(format.PValue(0.00140010602785315)) // lung, log-rank by sex (R survdiff)
	fmt.Println(format.PValue(0.0496))
	fmt.Println(format.PValue(3e-7))
	fmt.Println(format.PNumber(0.0496))
	// Output:
	// p = 0.0014
	// p = 0.0496
	// p < 0.0001
	// 0.0496
}
