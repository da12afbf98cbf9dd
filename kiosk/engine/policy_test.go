package engine

import (
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
)

func TestEnrollmentCodeIsSingleUseAndChecked(t *testing.T) {
	h := newHarness(t)
	h.e.StartEnrollment("WRONG")
	v := h.waitNotice(kiosk.NoticeBadEnrollmentCode)
	if v.State != kiosk.StateLocked || !h.hasAudit(kiosk.EventEnrollFailed, "") {
		t.Fatalf("view %+v", v)
	}
	h.enrollPlatform(alice, "ONCE", "135790")
	h.drain()
	h.e.StartEnrollment("ONCE")
	h.waitNotice(kiosk.NoticeBadEnrollmentCode)
	// A code that expired.
	h.store.IssueCode("OLD", bob.ID, t0.Add(time.Minute))
	h.clock.Advance(2 * time.Minute)
	h.drain()
	h.e.StartEnrollment("OLD")
	h.waitNotice(kiosk.NoticeBadEnrollmentCode)
}

func TestAAGUIDBlockListAtEnrollmentAndSignIn(t *testing.T) {
	k := newKey("k1", "4821", false)
	blocked := policy.FormatAAGUID(k.Info.AAGUID)
	h := newHarness(t)
	h.enrollKey(k, alice, "C")
	// Block the model after enrollment: sign-in refused.
	h2 := newHarness(t, func(c *Config) {
		c.Policy.AAGUIDBlock = []string{blocked}
		c.Store = h.store
	})
	h2.store = h.store
	h2.keys.Plug(k)
	h2.waitPrompt(kiosk.PromptPIN)
	h2.e.EnterPIN([]byte("4821"))
	v := h2.waitNotice(kiosk.NoticeNotAllowed)
	if v.Notice.Detail == "" || len(h2.sessions.Started) != 0 {
		t.Fatalf("notice %+v", v.Notice)
	}
	// And enrollment refused.
	h2.unplug(k)
	h2.issueCode("C2", bob)
	h2.e.StartEnrollment("C2")
	h2.waitPrompt(kiosk.PromptEnrollChoose)
	h2.e.ChooseAttachment(kiosk.AttachRoaming)
	h2.waitPrompt(kiosk.PromptInsertKey)
	h2.keys.Plug(k)
	h2.waitNotice(kiosk.NoticeNotAllowed)
}

func TestPilotGroupsAndHours(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Policy.Roaming.Groups = []string{"nurses"}
		c.Policy.Groups = []policy.GroupRules{{Group: "porters", Rules: policy.Rules{
			Hours:      []policy.Window{{From: 22 * time.Hour, To: 6 * time.Hour}},
			MaxSession: time.Hour, IdleTimeout: time.Minute, IdleWarning: 10 * time.Second, Program: []string{"/bin/true"},
		}}}
	})
	// Bob (porters) cannot register a security key: only the platform is
	// offered, and platform sign-in is outside his hours at 14:00.
	h.issueCode("C", bob)
	h.e.StartEnrollment("C")
	h.waitPrompt(kiosk.PromptNewPIN)
	h.e.EnterPIN([]byte("246810"))
	h.waitPrompt(kiosk.PromptEnrollDone)
	h.e.Cancel()
	h.drain()
	h.e.ChooseUser(bob.ID)
	v := h.waitNotice(kiosk.NoticeNotAllowed)
	if len(h.sessions.Started) != 0 {
		t.Fatalf("signed in out of hours: %+v", v)
	}
	// At 23:00 the night shift may sign in, with its own session length.
	h.clock.Advance(9 * time.Hour)
	h.drain()
	h.e.ChooseUser(bob.ID)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("246810"))
	h.waitState(kiosk.StateInSession)
	if got := h.sessions.Last().Spec.MaxDuration; got != time.Hour {
		t.Fatalf("porter session length %v", got)
	}
}

// A person disabled by IT is refused with every credential they have
// and cannot use an enrollment code issued
// earlier; each refusal is audited.
func TestDisabledUserCannotSignIn(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C1")
	h.enrollPlatform(alice, "C2", "135790")
	h.issueCode("LATER", alice)
	h.store.SetDisabled(alice.ID, true)

	h.e.TypeUserName("alice") // refused before the TPM is asked
	if v := h.waitNotice(kiosk.NoticeNotAllowed); v.Notice.Detail != "your account is disabled" {
		t.Fatalf("platform refusal says %q", v.Notice.Detail)
	}
	h.drain()
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	if v := h.waitNotice(kiosk.NoticeNotAllowed); v.Notice.Detail != "your account is disabled" {
		t.Fatalf("key refusal says %q", v.Notice.Detail)
	}
	h.unplug(k)
	h.e.StartEnrollment("LATER")
	h.waitNotice(kiosk.NoticeBadEnrollmentCode)
	if n := len(h.sessions.Started); n != 0 {
		t.Fatalf("%d sessions started", n)
	}
	refusals := 0
	for _, ev := range h.audited() {
		if (ev.Type == kiosk.EventSignInFailed || ev.Type == kiosk.EventEnrollFailed) && ev.User == alice.ID && ev.Kind == kiosk.KindPolicy ||
			ev.Type == kiosk.EventEnrollFailed && ev.User == alice.ID && ev.Kind == kiosk.KindNotFound {
			refusals++
		}
	}
	if refusals != 3 {
		t.Fatalf("%d refusals audited, want 3: %v", refusals, h.auditTypes())
	}
}

// Refusals before any authenticator is asked are audited too, without
// the typed name.
func TestRefusalsBeforeAskingAreAudited(t *testing.T) {
	h := newHarness(t)
	h.e.TypeUserName("4711") // a PIN typed into the name field
	h.waitNotice(kiosk.NoticeNotAllowed)
	h.drain()
	h.e.ChooseUser(bob.ID) // no platform passkey
	h.waitNotice(kiosk.NoticeNotAllowed)
	log := h.audited()
	if len(log) != 2 || log[0].Type != kiosk.EventSignInFailed || log[0].User != "" || log[1].User != bob.ID {
		t.Fatalf("audit %+v", log)
	}
	for _, ev := range log {
		for k, v := range ev.Detail {
			if strings.Contains(v, "4711") {
				t.Fatalf("typed text in the audit log: %s=%q", k, v)
			}
		}
	}
}

func TestSetPolicyTurnsSecurityKeysOff(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "4821", false)
	h.enrollKey(k, alice, "C")
	p := h.e.Policy()
	p.Roaming.Enabled = false
	if err := h.e.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	h.keys.Plug(k)
	h.waitNotice(kiosk.NoticeNotAllowed)
	bad := p
	bad.Platform.Enabled = false
	if err := h.e.SetPolicy(bad); err == nil {
		t.Fatal("a policy with no method at all was applied")
	}
	if !h.hasAudit(kiosk.EventPolicyApplied, "ok") {
		t.Fatalf("audit %v", h.auditTypes())
	}
}

// A person an administrator disables leaves the lock screen's tiles at
// once, not when someone next taps their tile.
func TestDisabledPersonsTileGoesAtOnce(t *testing.T) {
	h := newHarness(t)
	h.enrollPlatform(alice, "CODE-A", "135790")
	v := h.e.View()
	if len(v.Tiles) != 1 || v.Tiles[0].User != alice.ID {
		t.Fatalf("tiles %+v, want alice's", v.Tiles)
	}
	h.store.SetDisabled(alice.ID, true)
	h.e.PeopleChanged()
	if v := h.waitFor("alice's tile gone", func(v kiosk.View) bool { return len(v.Tiles) == 0 }); v.State != kiosk.StateLocked {
		t.Fatalf("state %v", v.State)
	}
}
