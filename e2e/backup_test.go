package e2e

import (
	"testing"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
	"passkiosk/store"
)

// A backup cannot be added from a session without the person's proof,
// and can with it. Alice has a passkey in the TPM (swtpm) and is signed
// in. "Add a backup" is pressed (as a session program reaching the window
// could): what follows without her PIN — choosing the security key,
// plugging in a key (through libfido2 and umockdev), a wrong PIN the TPM
// refuses, Cancel — registers nothing, and each step is audited. Then
// with her PIN, checked by the TPM, the same steps register the key.
func TestBackupFromASessionNeedsTheCurrentPIN(t *testing.T) {
	r := newRig(t, rigOptions{keys: true})
	alice, code := r.person("alice", "Alice Moreau", "nurses")
	backup := r.newKey(softkey.Config{PIN: "4821"})
	const pin = "135790"

	r.waitPrompt(kiosk.PromptTouchOrChoose)
	r.e.StartEnrollment(code)
	r.waitPrompt(kiosk.PromptEnrollChoose)
	r.e.ChooseAttachment(kiosk.AttachPlatform)
	r.waitPrompt(kiosk.PromptNewPIN)
	r.e.EnterPIN([]byte(pin))
	r.waitPrompt(kiosk.PromptEnrollDone)
	r.e.Cancel()
	r.waitPrompt(kiosk.PromptTouchOrChoose)
	r.e.ChooseUser(kiosk.UserID(alice.ID))
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte(pin))
	r.waitFor("the session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
	r.ready()
	count := func() int {
		creds, err := r.db.CredentialsOf(alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(creds)
	}

	// Without the proof.
	r.e.AddBackup()
	v := r.waitPrompt(kiosk.PromptPIN)
	if !v.Reauth || v.State != kiosk.StateVerifying {
		t.Fatalf("add a backup: state %v, reauth %v; want the proof first", v.State, v.Reauth)
	}
	r.e.ChooseAttachment(kiosk.AttachRoaming) // not asked: ignored
	backup.plug()
	r.waitFor("the key seen", func(v kiosk.View) bool { return v.KeyPresent })
	if v := r.last; v.Prompt != kiosk.PromptPIN || !v.Reauth {
		t.Fatalf("after choosing and plugging a key without the proof: %v %v", v.State, v.Prompt)
	}
	r.e.EnterPIN([]byte("000000"))
	v = r.waitNotice(kiosk.NoticeWrongPIN)
	if v.Prompt != kiosk.PromptPIN || !v.Reauth {
		t.Fatalf("after a wrong PIN: %v %v", v.State, v.Prompt)
	}
	r.e.Cancel()
	v = r.waitNotice(kiosk.NoticeBackupNotConfirmed)
	if v.Prompt != kiosk.PromptSession || v.Notice.Kind != kiosk.KindCancelled {
		t.Fatalf("after Cancel: %v %v %+v", v.State, v.Prompt, v.Notice)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d credentials after the proof was refused, want 1", n)
	}
	if !r.audited("reauth-failed", func(e store.AuditEvent) bool { return e.Reason == kiosk.KindPINInvalid }) ||
		!r.audited("cancelled", func(e store.AuditEvent) bool { return e.Detail["ceremony"] == "reauth" }) {
		t.Fatalf("the refused proof is not audited: %+v", r.events())
	}

	// With it.
	r.e.AddBackup()
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte(pin))
	// Her passkey is in the TPM already: the key is the only choice, and
	// it is plugged in.
	r.waitFor("the key's PIN", func(v kiosk.View) bool {
		return v.State == kiosk.StateEnrolling && v.Prompt == kiosk.PromptPIN && !v.Reauth
	})
	r.e.EnterPIN([]byte("4821"))
	r.waitPrompt(kiosk.PromptTouchKey)
	backup.touch()
	r.waitPrompt(kiosk.PromptEnrollDone)
	if n := count(); n != 2 {
		t.Fatalf("%d credentials after the backup, want 2", n)
	}
	if !r.audited("reauth", func(e store.AuditEvent) bool { return e.Detail["method"] == kiosk.AttachPlatform.String() }) ||
		!r.audited("enrolled", func(e store.AuditEvent) bool { return e.Detail["kind"] == "roaming" }) {
		t.Fatalf("the proof and the backup are not audited: %+v", r.events())
	}
	r.e.Cancel()
	r.waitPrompt(kiosk.PromptSession)
	r.e.SignOut()
	r.waitNotice(kiosk.NoticeSessionEnded)
	if st, err := r.db.VerifyChain(); err != nil {
		t.Fatalf("audit chain: %+v, %v", st, err)
	}
}

// The proof on the security key the session was signed in with, through
// the real libfido2: the key's PIN and a touch, the touch-to-sign-out
// request withdrawn meanwhile; then a passkey in the TPM as the backup.
func TestBackupProvedWithTheSignedInKeyThroughLibfido2(t *testing.T) {
	r := newRig(t, rigOptions{keys: true})
	bob, code := r.person("bob", "Bob Okafor", "porters")
	k := r.newKey(softkey.Config{PIN: "4821"})
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
	r.ready()

	r.e.AddBackup()
	v := r.waitPrompt(kiosk.PromptPIN)
	if !v.Reauth {
		t.Fatalf("add a backup: %v %v, want the proof first", v.State, v.Prompt)
	}
	r.e.EnterPIN([]byte("4821"))
	r.waitFor("the touch for the proof", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptTouchKey && v.Reauth })
	k.touch()
	r.waitPrompt(kiosk.PromptEnrollChoose)
	r.e.ChooseAttachment(kiosk.AttachPlatform)
	r.waitPrompt(kiosk.PromptNewPIN)
	r.e.EnterPIN([]byte("135790"))
	r.waitPrompt(kiosk.PromptEnrollDone)
	creds, err := r.db.CredentialsOf(bob.ID)
	if err != nil || len(creds) != 2 {
		t.Fatalf("credentials %d, %v; want 2", len(creds), err)
	}
	if !r.audited("reauth", func(e store.AuditEvent) bool { return e.Detail["method"] == kiosk.AttachRoaming.String() }) {
		t.Fatalf("the proof is not audited: %+v", r.events())
	}
	r.e.Cancel()
	r.waitFor("tap offered again", func(v kiosk.View) bool {
		return v.Prompt == kiosk.PromptSession && v.Session != nil && v.Session.TapToSignOut
	})
	k.touch()
	v = r.waitNotice(kiosk.NoticeSessionEnded)
	if v.Notice.Cause != kiosk.EndKeyTapped {
		t.Fatalf("after the tap: %+v", v.Notice)
	}
}
