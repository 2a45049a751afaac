package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// DictionaryHash is the SHA-256 (hex) of a study's declared dictionary as a catalog publishes
// it: the study version, the variables (name, type, label, unit, categories in their declared
// order, range) and the endpoints (name, label), in order, encoded as JSON. Sites of one study
// that publish the same dictionary publish the same hash; a client can recompute it from a
// StudyCatalog to check that the hash describes what the site lists.
func DictionaryHash(version string, vars []Variable, eps []Endpoint) string {
	if vars == nil {
		vars = []Variable{}
	}
	if eps == nil {
		eps = []Endpoint{}
	}
	b, err := json.Marshal(struct {
		Version   string     `json:"version"`
		Variables []Variable `json:"variables"`
		Endpoints []Endpoint `json:"endpoints"`
	}{version, vars, eps})
	if err != nil {
		panic("protocol: dictionary hash: " + err.Error()) // only non-finite ranges fail
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
