package protocol

import "slices"

// refusal checks the coded error of a reply: a code, and a reason only on a refusal by
// policy, one this version knows, with a finite, non-negative limit (and no limit without a
// reason).
func (v *validator) refusal(e *Error) {
	if e.Code == "" {
		v.failf("error.code", "empty")
	}
	if e.Reason != "" {
		if e.Code != CodeRefusedByPolicy {
			v.failf("error.reason", "%q on an error of code %q, want %q", clipName(e.Reason), clipName(e.Code), CodeRefusedByPolicy)
		}
		if !slices.Contains(Reasons, e.Reason) {
			v.failf("error.reason", "unknown reason %q", clipName(e.Reason))
		}
	}
	v.finite("error.limit", e.Limit)
	if e.Limit < 0 {
		v.failf("error.limit", "%v is negative", e.Limit)
	}
	if e.Limit != 0 && e.Reason == "" {
		v.failf("error.limit", "%v without a reason", e.Limit)
	}
}
