// Package dp releases counts and survival tables from a site node under
// zero-concentrated differential privacy (zCDP, Bun & Steinke 2016), with
// noise from the exact discrete Gaussian (Canonne, Kamath & Steinke 2020).
//
// Why discrete and exact: floating-point noise samplers leak the secret
// through the low-order bits of their output (Mironov 2012, "On
// Significance of the Least Significant Bits for Differential Privacy").
// Counts are integers, so the natural noise is an integer too; the sampler
// here uses only integer and rational arithmetic (math/big) on bits read
// from an io.Reader (crypto/rand by default). Floating point appears only in
// post-processing (decoding, consistency, Kaplan–Meier) and in the
// (ε, δ) conversion, neither of which touches the secret before noise is
// added.
//
// Not covered: the sampler's running time depends on the value it draws
// (rejection sampling), so an observer timing a release learns a little
// about the noise; Canonne, Kamath & Steinke (2020, Section 5.3) discuss
// this. Nodes reply over a message bus after whole queries, which blurs but
// does not remove the channel.
//
// Privacy unit: neighbouring data sets differ by adding or removing one
// patient. Budgets are exact rationals (*big.Rat) so that a ledger of many
// releases never drifts: under zCDP composition is ρ₁ + ρ₂ (Bun & Steinke
// 2016, Lemma 2.3).
//
// The package is Fyne-free and network-free; nodes call it. Programmer
// misuse (nil or non-positive ρ, a nil Sampler) panics with a "dp: " prefix;
// bad data (negative counts, an empty table) and a failing randomness source
// return an error, and nothing is released.
package dp
