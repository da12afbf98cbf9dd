package engine

import (
	"slices"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
)

// The terminal's place decides which place rules apply: on the ICU
// (open 06:00–15:00, 30-minute sessions, its own program) Bob signs in at
// 14:00 into the ICU's program and is refused at 15:30; moved to ward 7
// (SetPlace) the same terminal lets him in with his group's rules.
func TestPlaceRulesFollowTheTerminalsPlace(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Place = policy.Place{Site: "north", Ward: "icu"}
		c.Policy.Places = []policy.PlaceRules{{Name: "icu", Match: policy.Match{Ward: "icu"},
			Hours: []policy.Window{{From: 6 * time.Hour, To: 15 * time.Hour}}, MaxSession: 30 * time.Minute,
			Program: []string{"/usr/bin/icu-chart"}}}
	})
	h.enrollPlatform(bob, "C", "246810")
	signIn := func() {
		t.Helper()
		h.e.ChooseUser(bob.ID)
		h.waitPrompt(kiosk.PromptPIN)
		h.e.EnterPIN([]byte("246810"))
		h.waitState(kiosk.StateInSession)
	}
	signIn()
	spec := h.sessions.Last().Spec
	if spec.MaxDuration != 30*time.Minute || !slices.Equal(spec.Program, []string{"/usr/bin/icu-chart"}) {
		t.Fatalf("ICU session: %v %v, want 30m in the ICU's program", spec.MaxDuration, spec.Program)
	}
	opened := 0
	for _, ev := range h.audited() {
		if ev.Type == kiosk.EventSessionOpened {
			opened++
			if ev.Detail["place"] != "site=north ward=icu" || ev.Detail["max"] != "30m0s" {
				t.Errorf("session-opened detail %v", ev.Detail)
			}
		}
	}
	if opened != 1 {
		t.Errorf("%d session-opened entries", opened)
	}
	h.e.SignOut()
	h.waitState(kiosk.StateLocked)
	h.clock.Advance(90 * time.Minute) // 15:30: the ICU is closed
	h.drain()
	h.e.ChooseUser(bob.ID)
	h.waitNotice(kiosk.NoticeNotAllowed)
	if n := len(h.sessions.Started); n != 1 {
		t.Fatalf("%d sessions, want the first only", n)
	}
	h.e.SetPlace(policy.Place{Site: "north", Ward: "ward7"})
	if h.e.Place().Ward != "ward7" {
		t.Fatalf("place %+v", h.e.Place())
	}
	h.drain()
	signIn()
	spec = h.sessions.Last().Spec
	if spec.MaxDuration != 8*time.Hour || !slices.Equal(spec.Program, []string{"/bin/true"}) {
		t.Fatalf("ward 7 session: %v %v, want the group's 8h and program", spec.MaxDuration, spec.Program)
	}
}
