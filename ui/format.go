package ui

import (
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report/format"
)

// FormatCount renders a released count: "1,284", "<5" (suppressed, never 0), "13–16".
func FormatCount(n app.Count) string {
	if n.Suppressed {
		return n.String()
	}
	return format.Thousands(n.N)
}
