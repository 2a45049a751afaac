package node

import "github.com/oncofed/oncofed/protocol"

// checkQuery validates the shape of a query before any data is read (protocol.ValidateQuery:
// version, kind, string lengths, the filter tree and the kind's parameters, the same checks
// the client makes before sending). Names are checked against the study later
// (checkAgainstStudy), the policy after that.
func checkQuery(q *protocol.Query) error {
	return protocol.ValidateQuery(*q)
}

// clip shortens untrusted strings quoted back in messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
