package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/app"
)

// FormatCount renders a released count: "1,284", "<5" (suppressed, never 0), "13–16".
func FormatCount(n app.Count) string {
	if n.Suppressed {
		return n.String()
	}
	return thousands(n.N)
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
