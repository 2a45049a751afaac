//go:build race

package synth_test

// raceEnabled scales the statistical tests down under the race detector (5–10× slower), where
// they check for data races rather than sampling precision; their tolerances follow n.
const raceEnabled = true
