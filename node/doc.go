// Package node is the hospital side: the site's data store and CSV import, the engine that
// answers whitelisted aggregate queries, the disclosure policy applied before anything leaves,
// and the hash-chained audit log. It is the only component that sees patient-level records.
package node
