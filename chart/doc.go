// Package chart draws the figures users put on slides with gonum/plot: Kaplan–Meier curves
// with confidence bands, censor ticks and a number-at-risk table aligned under the time axis,
// forest plots, bar charts and histograms; to image, PNG, SVG and PDF.
//
// A figure is a plain struct — KMFigure, ForestPlot, BarChart, Histogram — that implements
// Figure. Fill it from analysis results (CurveFromEstimate, ForestFromMeta, ForestFromCox,
// BarsFromAggregates, HistogramFromAggregates) or by hand, then render it with Image (for
// the screen), WritePNG, WriteSVG, WritePDF, WritePDFDeck (one page per figure) or
// WriteFile, or draw it on any gonum/plot canvas with its Draw method.
//
// Times are given in days and shown in the figure's TimeUnit (months by default). A figure
// is laid out on its Style's logical page (8×5 in for PublicationStyle, 12×7.5 in for
// PresentationStyle) and an image of any pixel size shows that page at the resolution that
// fits, so type keeps its size relative to the figure; vector exports use the same page.
//
// Counts a disclosure policy suppressed are never drawn as numbers: a negative count
// (SuppressedCount) or a count below the minimum cell prints as "<5", and pooled counts known
// only as a range are drawn as one (FormatCount, BarGroup.Max, HistSeries.Max).
//
// Golden images of every figure type are in testdata/; after a deliberate change to the
// drawing, regenerate them with go test ./chart -run TestGoldenImages -regen and look at
// them.
package chart
