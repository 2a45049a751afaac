package protocol

// Limits on a query. A node refuses (code invalid) anything larger before it touches data;
// a client can check the same limits before sending.
const (
	MaxQueryBytes   = 64 << 10 // a query's JSON encoding
	MaxNameLen      = 256      // study, variable, endpoint, category, analyst and query id strings
	MaxFilterDepth  = 16       // nesting of and/or/not
	MaxFilterNodes  = 256      // conditions in one cohort filter
	MaxFilterValues = 1024     // values of one "in"
	MaxVariables    = 64       // variables of one summary
	MaxEdges        = 256      // histogram edges of one variable
	MaxCovariates   = 32       // Cox covariates (before expansion to design columns)
	MaxDesignCols   = 64       // Cox design columns (β length)
)
