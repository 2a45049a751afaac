package chart

import (
	"math"
	"strconv"
)

// TimeUnit is the unit of a time axis. Input times are always in days; a figure converts
// them to its unit for display.
type TimeUnit int

const (
	// Months is the default unit of survival figures in oncology (1 month = 365.25/12 days).
	Months TimeUnit = iota
	// Days shows times as given.
	Days
	// Years uses 1 year = 365.25 days.
	Years
)

// DaysPer is the number of days in one unit: 30.4375 for Months, 1 for Days, 365.25 for Years.
func (u TimeUnit) DaysPer() float64 {
	switch u {
	case Days:
		return 1
	case Years:
		return 365.25
	case Months:
		return 365.25 / 12
	}
	panic("chart: unknown TimeUnit " + strconv.Itoa(int(u)))
}

// FromDays converts a time in days to the unit.
func (u TimeUnit) FromDays(d float64) float64 { return d / u.DaysPer() }

// String returns the plural name of the unit in lower case ("months").
func (u TimeUnit) String() string {
	switch u {
	case Days:
		return "days"
	case Years:
		return "years"
	case Months:
		return "months"
	}
	return "TimeUnit(" + strconv.Itoa(int(u)) + ")"
}

// Abbrev returns the short name used after numbers in annotations ("mo", "d", "y").
func (u TimeUnit) Abbrev() string {
	switch u {
	case Days:
		return "d"
	case Years:
		return "y"
	}
	return "mo"
}

// tickSteps are the steps a reader expects on each unit's axis: months by 3, 6, 12 (the
// visit schedules of oncology trials), years by whole years, days by round numbers.
var tickSteps = map[TimeUnit][]float64{
	Months: {1, 2, 3, 6, 12, 24, 36, 60, 120, 240},
	Years:  {0.25, 0.5, 1, 2, 5, 10, 20, 50},
	Days:   {1, 2, 5, 7, 10, 14, 20, 30, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000},
}

// TimeTicks returns the time-axis ticks, in units, for follow-up up to maxTime units: the
// smallest of the unit's usual steps that cuts [0, maxTime] into at most maxIntervals
// intervals, from 0 to the first multiple of the step at or above maxTime. The axis ends
// on the last tick so that the number-at-risk table has a column at the axis end.
func TimeTicks(maxTime float64, unit TimeUnit, maxIntervals int) []float64 {
	if maxIntervals < 1 {
		panic("chart: TimeTicks needs maxIntervals ≥ 1")
	}
	if !(maxTime > 0) || math.IsInf(maxTime, 0) {
		return []float64{0, 1}
	}
	steps := tickSteps[unit]
	step := steps[len(steps)-1]
	for _, s := range steps {
		if math.Ceil(maxTime/s-1e-9) <= float64(maxIntervals) {
			step = s
			break
		}
	}
	for k := 0; math.Ceil(maxTime/step-1e-9) > float64(maxIntervals); k++ {
		// Beyond the table: 1-2-5 steps from the last usual one.
		step = []float64{2, 5, 10}[k%3] * math.Pow(10, float64(k/3)) * steps[len(steps)-1]
	}
	n := int(math.Ceil(maxTime/step - 1e-9))
	if n < 1 {
		n = 1
	}
	ticks := make([]float64, n+1)
	for i := range ticks {
		ticks[i] = float64(i) * step
	}
	return ticks
}

// formatTick prints a tick value without trailing zeros ("6", "0.5").
func formatTick(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// ParseTimeUnit reads "days", "months" or "years" (as String writes them); "" is Months, the
// default. ok is false for anything else.
func ParseTimeUnit(s string) (u TimeUnit, ok bool) {
	switch s {
	case "", "months":
		return Months, true
	case "days":
		return Days, true
	case "years":
		return Years, true
	}
	return Months, false
}
