package e2e

import (
	"strconv"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// BenchmarkSession measures, on the production components (TPM passkey on
// swtpm, bbolt, a real session of processes on tmpfs), the two waits a
// person notices around a session:
//
//   - verified-ms: from the engine having verified the assertion (its
//     "one moment" view) to the session's program running (the session
//     view, published once the program has been started);
//   - signout-ms: from pressing Sign out, with 10,000 files and two
//     processes (one ignoring SIGTERM) in the session, to the lock screen
//     ready for the next person: processes gone, files wiped, both checked,
//     audited.
//
// The TPM sign-in itself is measured in tpm (BenchmarkSignInSwtpm).
func BenchmarkSession(b *testing.B) {
	r := newRig(b, rigOptions{files: 10000})
	alice, code := r.person("alice", "Alice Moreau", "nurses")
	r.waitPrompt(kiosk.PromptTouchOrChoose)
	r.e.StartEnrollment(code)
	r.waitPrompt(kiosk.PromptNewPIN)
	r.e.EnterPIN([]byte("135790"))
	r.waitPrompt(kiosk.PromptEnrollDone)
	r.e.Cancel()
	r.waitPrompt(kiosk.PromptTouchOrChoose)

	var verified, signout time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.e.ChooseUser(kiosk.UserID(alice.ID))
		r.waitPrompt(kiosk.PromptPIN)
		r.e.EnterPIN([]byte("135790"))
		// Verified: the working view after the assertion passed, which has
		// no deadline (the one while the TPM signs has the device's).
		v := r.waitFor("verified", func(v kiosk.View) bool {
			return v.State == kiosk.StateVerifying && v.Prompt == kiosk.PromptWorking && v.Deadline.IsZero()
		})
		s := r.waitFor("the session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
		verified += s.at.Sub(v.at)
		r.ready()

		start := time.Now()
		r.e.SignOut()
		l := r.waitFor("the lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked })
		signout += l.at.Sub(start)
		if r.find("ready") != "" {
			b.Fatal("the session's files survived sign-out")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(verified.Microseconds())/1000/float64(b.N), "verified-ms")
	b.ReportMetric(float64(signout.Microseconds())/1000/float64(b.N), "signout-ms")
	if !r.audited("wipe", func(e store.AuditEvent) bool {
		files, _ := strconv.Atoi(e.Detail["files"])
		procs, _ := strconv.Atoi(e.Detail["processes"])
		return e.Detail["outcome"] == "ok" && files > 10000 && procs >= 2
	}) {
		b.Fatal("no clean wipe of 10,000 files and 2 processes audited")
	}
}
