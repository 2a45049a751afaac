package app

import "testing"

// TestBySameReason: one reason from every site is said once; different reasons each with their
// sites, in the order they first appear.
func TestBySameReason(t *testing.T) {
	role := "analyst \"demo\" has the dp role"
	all := []SiteProblem{{Site: "a", Message: role}, {Site: "b", Message: role}, {Site: "c", Message: role}}
	if got, want := BySameReason(all), "all 3 sites (a, b, c): "+role; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	mixed := []SiteProblem{{Site: "a", Message: "small"}, {Site: "b", Message: "guard"}, {Site: "c", Message: "small"}}
	if got, want := BySameReason(mixed), "a, c: small; b: guard"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := BySameReason(all[:1]), "a: "+role; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
