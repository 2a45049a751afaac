// Package chart draws the figures users put on slides with gonum/plot: Kaplan–Meier curves
// with confidence bands, censor ticks and a number-at-risk table aligned under the time axis,
// forest plots, bar charts and histograms; to image, PNG, SVG and PDF.
package chart
