package synth

// DeclaredRanges are the declared (public) ranges of the studies' numeric variables, as their
// data dictionaries state them: every generated value lies inside (measured on 20,000
// patients per study: ages 22–99, ECOG 0–2, weight loss −24–61 kg, years 2019–2024), and a
// protective site caps a Cox model's β per the range's width (node's max_cox_log_hr), so they
// are the scale's bounds rather than the data's.
var DeclaredRanges = map[string][2]float64{
	"age":            {18, 100},
	"ecog":           {0, 5},
	"weight_loss_kg": {-50, 100},
	"dx_year":        {2015, 2030},
}
