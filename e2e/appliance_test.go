package e2e

import (
	"time"

	"os"
	"strconv"
	"testing"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
	"passkiosk/kiosk/engine"
	"passkiosk/store"
)

// A nurse registers a passkey in this terminal's TPM with an enrollment
// code, signs in by her tile (a wrong PIN first: the TPM counts it), works
// in a session that leaves files and a process that ignores SIGTERM, and
// signs out: nothing of the session remains, and the audit log says so
// and still verifies.
func TestPlatformPasskeyOnSwtpmToWipedSession(t *testing.T) {
	r := newRig(t, rigOptions{})
	alice, code := r.person("alice", "Alice Moreau", "nurses")

	r.waitPrompt(kiosk.PromptTouchOrChoose)
	r.e.StartEnrollment(code)
	r.waitPrompt(kiosk.PromptNewPIN) // no security keys here: straight to the terminal's own passkey
	r.e.EnterPIN([]byte("135790"))
	v := r.waitPrompt(kiosk.PromptEnrollDone)
	if v.Notice == nil || v.Notice.Code != kiosk.NoticeBackupSuggested {
		t.Fatalf("enrollment notice %+v, want the backup suggestion (one credential of two)", v.Notice)
	}
	r.e.Cancel()
	v = r.waitFor("alice's tile", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptTouchOrChoose && len(v.Tiles) == 1 })
	if v.Tiles[0].DisplayName != "Alice Moreau" {
		t.Fatalf("tiles %+v", v.Tiles)
	}
	creds, err := r.db.CredentialsOf(alice.ID)
	if err != nil || len(creds) != 1 || creds[0].TPM == nil || creds[0].Kind != store.KindPlatform {
		t.Fatalf("stored credentials %+v, %v: want one TPM key", creds, err)
	}

	r.e.ChooseUser(kiosk.UserID(alice.ID))
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte("000000"))
	v = r.waitNotice(kiosk.NoticeWrongPIN)
	if v.Prompt != kiosk.PromptPIN || v.Notice.Tries <= 0 {
		t.Fatalf("after a wrong PIN: prompt %v, notice %+v; want the PIN pad again with her own tries left", v.Prompt, v.Notice)
	}
	r.e.EnterPIN([]byte("135790"))
	v = r.waitFor("the session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
	if v.Session.DisplayName != "Alice Moreau" || v.Session.TapToSignOut {
		t.Fatalf("session view %+v", v.Session)
	}
	r.ready()
	home := r.find("ready")

	r.e.SignOut()
	v = r.waitNotice(kiosk.NoticeSessionEnded)
	if v.State != kiosk.StateLocked || v.Notice.Cause != kiosk.EndLogout {
		t.Fatalf("after sign out: %v %+v", v.State, v.Notice)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Fatalf("the session's file is still there: %v", err)
	}
	if !r.audited("wipe", func(e store.AuditEvent) bool {
		files, _ := strconv.Atoi(e.Detail["files"])
		procs, _ := strconv.Atoi(e.Detail["processes"])
		return e.Detail["outcome"] == "ok" && files >= 100 && procs >= 2
	}) {
		t.Fatalf("no clean wipe of ≥100 files and ≥2 processes in the audit log: %+v", r.events())
	}
	for _, name := range []string{"sign-in", "sign-in-failed", "session-opened", "session-ended"} {
		if !r.audited(name, nil) {
			t.Errorf("audit log has no %s", name)
		}
	}
	if st, err := r.db.VerifyChain(); err != nil {
		t.Fatalf("audit chain: %+v, %v", st, err)
	}
}

// Tap and go with a security key through the real libfido2: enrollment
// with the key's PIN, a wrong PIN with the key's own count of tries, the
// key left in and used again from the lock screen, a tap on the same key
// to sign out, and pulling the key to end the next session.
func TestSecurityKeyThroughLibfido2(t *testing.T) {
	r := newRig(t, rigOptions{keys: true})
	bob, code := r.person("bob", "Bob Okafor", "porters")
	k := r.newKey(softkey.Config{PIN: "4821"})

	r.enrollKey(k, code, "4821")
	creds, err := r.db.CredentialsOf(bob.ID)
	if err != nil || len(creds) != 1 || creds[0].Kind != store.KindRoaming {
		t.Fatalf("stored credentials %+v, %v: want one security key", creds, err)
	}
	r.e.Cancel()

	// The key stayed in: sign in from the lock screen.
	r.waitFor("the key present", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptTouchOrChoose && v.KeyPresent })
	r.e.UseKey()
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte("1111"))
	v := r.waitNotice(kiosk.NoticeWrongPIN)
	if v.Notice.Tries != 7 || k.k.PINRetries() != 7 {
		t.Fatalf("wrong PIN: notice %+v, key's retries %d; want 7 and 7", v.Notice, k.k.PINRetries())
	}
	r.e.EnterPIN([]byte("4821"))
	r.waitPrompt(kiosk.PromptTouchKey)
	k.touch()
	v = r.waitFor("the session, waiting for a tap", func(v kiosk.View) bool {
		return v.State == kiosk.StateInSession && v.Session.TapToSignOut
	})
	if v.Session.DisplayName != "Bob Okafor" {
		t.Fatalf("session view %+v", v.Session)
	}
	r.ready()

	// Tap the same key: signed out.
	before := creds[0].Counter
	k.touch()
	v = r.waitNotice(kiosk.NoticeSessionEnded)
	if v.Notice.Cause != kiosk.EndKeyTapped || r.find("ready") != "" {
		t.Fatalf("after the tap: notice %+v, files left %q", v.Notice, r.find("ready"))
	}
	if !r.audited("session-ended", func(e store.AuditEvent) bool { return e.Cause == kiosk.EndKeyTapped }) {
		t.Fatalf("no session-ended with cause key-tapped: %+v", r.events())
	}
	creds, _ = r.db.CredentialsOf(bob.ID)
	if creds[0].Counter <= before {
		t.Fatalf("signature counter %d after the tap, %d before: the tap's assertion must be recorded", creds[0].Counter, before)
	}

	// Again, and pull the key this time.
	r.e.UseKey()
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte("4821"))
	r.waitPrompt(kiosk.PromptTouchKey)
	k.touch()
	r.waitFor("the session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession && v.Session.TapToSignOut })
	r.ready()
	first := r.keys.Present()
	k.unplug()
	v = r.waitNotice(kiosk.NoticeSessionEnded)
	if v.Notice.Cause != kiosk.EndKeyRemoved || v.KeyPresent || r.find("ready") != "" {
		t.Fatalf("after pulling the key: notice %+v, key present %v", v.Notice, v.KeyPresent)
	}

	// Plugged in again: a new plug-in, with an ID of its own.
	k.plug()
	r.waitFor("the key back", func(v kiosk.View) bool { return v.KeyPresent })
	again := r.keys.Present()
	if len(first) != 1 || len(again) != 1 || again[0].ID == first[0].ID {
		t.Fatalf("before the pull %+v, after the re-plug %+v: want a new ID", first, again)
	}
	if st, err := r.db.VerifyChain(); err != nil {
		t.Fatalf("audit chain: %+v, %v", st, err)
	}
}

// Tap to sign out through the real libfido2 outlasts the key's own touch
// timeout: with the engine's bound equal to the key's (the worst case,
// both ending together), the request is asked again and again, and a
// touch many timeouts later still signs the person out.
func TestTapToSignOutOutlastsTheKeysTimeout(t *testing.T) {
	const wait = 2 * time.Second
	timeouts := engine.DefaultTimeouts
	timeouts.Device = wait
	r := newRig(t, rigOptions{keys: true, files: 1, timeouts: &timeouts})
	_, code := r.person("bob", "Bob Okafor", "porters")
	k := r.newKey(softkey.Config{PIN: "4821", TouchTimeout: wait})

	r.enrollKey(k, code, "4821")
	r.e.Cancel()
	r.waitFor("the key present", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptTouchOrChoose && v.KeyPresent })
	r.e.UseKey()
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte("4821"))
	r.waitPrompt(kiosk.PromptTouchKey)
	k.touch()
	r.waitFor("the session, waiting for a tap", func(v kiosk.View) bool {
		return v.State == kiosk.StateInSession && v.Session.TapToSignOut
	})

	time.Sleep(4*wait + wait/2) // four of the key's timeouts, and a half
	if v := r.e.View(); v.State != kiosk.StateInSession || v.Session.TapUnavailable {
		t.Fatalf("after the key's timeouts: %v %+v", v.State, v.Session)
	}
	k.touch()
	if v := r.waitNotice(kiosk.NoticeSessionEnded); v.Notice.Cause != kiosk.EndKeyTapped {
		t.Fatalf("after the tap: notice %+v", v.Notice)
	}
}
