package main

import (
	"fmt"
	"strconv"

	"github.com/oncofed/oncofed/chart"
)

// timeUnit is the --time-unit of the km text output: the zero value is days (times as the
// sites send them, the output before the flag existed); months and years convert with the
// desktop's "Time in" conversion (chart.TimeUnit: 365.25/12 and 365.25 days).
type timeUnit struct {
	u     chart.TimeUnit
	set   bool // months or years; false: days
	given bool // --time-unit was given (figures default to months, not days)
}

func (t *timeUnit) String() string {
	if t == nil || !t.set {
		return "days"
	}
	return t.u.String()
}

// Set parses days, months or years (flag.Value).
func (t *timeUnit) Set(s string) error {
	switch s {
	case "days", "day", "d":
		*t = timeUnit{given: true}
	case "months", "month", "mo":
		*t = timeUnit{u: chart.Months, set: true, given: true}
	case "years", "year", "y":
		*t = timeUnit{u: chart.Years, set: true, given: true}
	default:
		return fmt.Errorf("%q: want days, months or years", s)
	}
	return nil
}

// chart is the unit as the chart package names it.
func (t timeUnit) chart() chart.TimeUnit {
	if !t.set {
		return chart.Days
	}
	return t.u
}

// str formats a time given in days (nil: NA) in the unit, to 4 significant digits.
func (t timeUnit) str(days *float64) string {
	if days == nil {
		return "NA"
	}
	return r4(t.chart().FromDays(*days))
}

// at names a time given in days in the unit: "365 d" (exact), "12 mo", "1 y" (4 digits).
func (t timeUnit) at(days float64) string {
	if !t.set {
		return g(days) + " d"
	}
	u := t.chart()
	return strconv.FormatFloat(u.FromDays(days), 'g', 4, 64) + " " + u.Abbrev()
}

// landmark is the time of an S(t) column: the days as given ("365"), else "11.99 mo".
func (t timeUnit) landmark(days float64) string {
	if !t.set {
		return g(days)
	}
	return t.at(days)
}

// medianHeader heads the median column, naming the unit unless it is days.
func (t timeUnit) medianHeader() string {
	if !t.set {
		return "MEDIAN (95% CI)"
	}
	return "MEDIAN, " + t.u.String() + " (95% CI)"
}
