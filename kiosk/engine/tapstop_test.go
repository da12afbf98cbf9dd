package engine

import (
	"testing"

	"passkiosk/kiosk"
)

// When tap to sign out has to stop for good, the session screen says so
// rather than just dropping the hint: here the key answers the touch with
// an assertion that does not verify.
func TestTapThatStopsForGoodIsSaid(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	keySession(t, h, k)
	waitTouchRequests(t, k, 1)
	if v := h.e.View(); v.Session == nil || v.Session.TapUnavailable {
		t.Fatalf("tap said unavailable while it works: %+v", v.Session)
	}
	k.Authenticator(0).Count = 0
	k.Touch()
	v := h.waitFor("tap said unavailable", func(v kiosk.View) bool { return v.Session != nil && v.Session.TapUnavailable })
	if v.Session.TapToSignOut {
		t.Fatalf("tap offered and said unavailable at once: %+v", v.Session)
	}
}
