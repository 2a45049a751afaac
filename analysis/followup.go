package analysis

// ReverseKaplanMeier estimates the distribution of potential follow-up time by the reverse
// Kaplan–Meier method (Schemper & Smith 1996): the Kaplan–Meier estimate with the roles of
// events and censorings swapped, so that a censoring is the "event" and a death censors the
// follow-up. It equals R's survfit(Surv(time, 1 - status) ~ 1).
func ReverseKaplanMeier(t SurvivalTable, opts KMOptions) (*KMEstimate, error) {
	r := SurvivalTable{Time: t.Time, Events: t.Censor, Censor: t.Events, Entries: t.Entries}
	return KaplanMeier(r, opts)
}

// MedianFollowUp returns the median follow-up time by the reverse Kaplan–Meier method, with
// its confidence interval by the quantile rule of (*KMEstimate).Quantile: R's
// quantile(survfit(Surv(time, 1 - status) ~ 1), 0.5). Time is NaN when fewer than half the
// subjects were censored before the last time (the reverse curve never reaches 0.5), e.g. when
// nobody was censored at all.
func MedianFollowUp(t SurvivalTable, opts KMOptions) (QuantileEstimate, error) {
	e, err := ReverseKaplanMeier(t, opts)
	if err != nil {
		return QuantileEstimate{}, err
	}
	return e.Median(), nil
}
