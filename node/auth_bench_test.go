package node

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// BenchmarkSignedCount: the cost of authentication on a small query (lung, count by sex,
// exact policy so no guard work): open node vs one that verifies the Ed25519 signature and
// records the nonce in the site database. Signing (client side) is outside the timer.
func BenchmarkSignedCount(b *testing.B) {
	for _, signed := range []bool{false, true} {
		b.Run(map[bool]string{false: "open", true: "signed"}[signed], func(b *testing.B) {
			store := importFile(b, filepath.Join(b.TempDir(), "lung.db"), lungCSV, lungSpec)
			pol := ExactPolicy()
			cfg := Config{InsecureOpen: true, Policy: &pol}
			signer := protocol.NewSigner(testKey(1), nil)
			if signed {
				a, err := ParseAnalysts(strings.NewReader("alice " + signer.PublicKey() + " trusted\n"))
				if err != nil {
					b.Fatal(err)
				}
				cfg.Analysts = a
			}
			e, err := NewEngine(context.Background(), store, cfg)
			if err != nil {
				b.Fatal(err)
			}
			msgs := make([][]byte, b.N)
			for i := range msgs {
				q := query(protocol.KindCount)
				q.GroupBy, q.ID = "sex", fmt.Sprint(i)
				if signed {
					if err := signer.Sign(&q); err != nil {
						b.Fatal(err)
					}
				}
				msgs[i], _ = json.Marshal(q)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var r protocol.Reply
				if err := json.Unmarshal(e.HandleJSON(context.Background(), msgs[i]), &r); err != nil || r.Error != nil {
					b.Fatalf("%v %v", err, r.Error)
				}
			}
		})
	}
}
