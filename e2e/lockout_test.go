package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/tpm"
	"passkiosk/tpm/swtpm"
)

// shared is a terminal shared by many people: the engine over bbolt on
// disk and a swtpm process whose dictionary-attack parameters the
// appliance manages (32 failures, one forgotten every 10 minutes), with a
// manual clock for the engine's backoffs. Sessions are stand-ins: this is
// about who may sign in, not about what a session leaves.
type shared struct {
	t      *testing.T
	dir    string
	clock  *kiosktest.Clock
	db     *store.DB
	tpm    *tpm.TPM
	e      *engine.Engine
	cancel context.CancelFunc
	views  chan kiosk.View
	last   kiosk.View
}

func newShared(t *testing.T) *shared {
	t.Helper()
	if !swtpm.Available() {
		t.Skip("swtpm is not installed (make deps installs it)")
	}
	s := &shared{t: t, dir: t.TempDir(), clock: kiosktest.NewClock(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC))}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start opens the records and the TPM and starts an engine on them, as
// the appliance does at boot.
func (s *shared) start() {
	t := s.t
	var err error
	s.db, err = store.Open(filepath.Join(s.dir, "passkiosk.db"), store.Options{Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.db.TPMLockoutAuth()
	if err != nil {
		t.Fatal(err)
	}
	s.tpm, err = tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, SwtpmStateDir: filepath.Join(s.dir, "tpm"),
		DA: &tpm.DefaultDAParams, SealedLockoutAuth: sealed, KeepSession: true,
		SaveSealedLockoutAuth: func(b []byte) error { return s.db.SetTPMLockoutAuth(b, terminal) }})
	if err != nil {
		t.Fatalf("TPM on swtpm: %v", err)
	}
	p := policy.Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s.views = make(chan kiosk.View, 4096)
	s.last = kiosk.View{}
	s.e = engine.New(engine.Config{
		Terminal: terminal, Policy: p, Store: storeport.NewRecords(s.db, terminal), Platform: tpm.NewPlatform(s.tpm, nil),
		Sessions: &kiosktest.Sessions{}, Clock: s.clock, Timeouts: engine.DefaultTimeouts,
		Publish: func(v kiosk.View) { s.views <- v },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go s.e.Run(ctx)
	s.waitFor("the lock screen", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptTouchOrChoose })
}

// stop is a clean stop: the TPM gets its TPM2_Shutdown, swtpm stops.
func (s *shared) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := s.tpm.Close(); err != nil {
		s.t.Errorf("close TPM: %v", err)
	}
	s.db.Close()
}

func (s *shared) waitFor(what string, ok func(kiosk.View) bool) kiosk.View {
	s.t.Helper()
	if ok(s.last) {
		return s.last
	}
	guard := time.After(60 * time.Second)
	for {
		select {
		case v := <-s.views:
			s.last = v
			if ok(v) {
				return v
			}
		case <-guard:
			s.t.Fatalf("never reached %s; last view: state %v prompt %v notice %+v", what, s.last.State, s.last.Prompt, s.last.Notice)
		}
	}
}

func (s *shared) prompt(p kiosk.Prompt) kiosk.View {
	s.t.Helper()
	return s.waitFor(p.String(), func(v kiosk.View) bool { return v.Prompt == p })
}

// enroll registers a person's TPM passkey with an enrollment code.
func (s *shared) enroll(name, pin string) kiosk.UserID {
	s.t.Helper()
	u := store.User{ID: []byte("u-" + name), Name: name, DisplayName: name, State: store.UserActive}
	ch := store.Change{Actor: "it-admin", Terminal: terminal}
	if err := s.db.PutUser(u, ch); err != nil {
		s.t.Fatal(err)
	}
	code, _, err := s.db.IssueEnrollmentCode(u.ID, store.PurposeEnroll, time.Hour, ch)
	if err != nil {
		s.t.Fatal(err)
	}
	s.e.StartEnrollment(code)
	s.prompt(kiosk.PromptNewPIN)
	s.e.EnterPIN([]byte(pin))
	s.prompt(kiosk.PromptEnrollDone)
	s.e.Cancel()
	s.prompt(kiosk.PromptTouchOrChoose)
	return kiosk.UserID(u.ID)
}

// try has the person choose their tile and, if the PIN pad comes, type
// pin. It returns the screen that answers: the session, the PIN pad again
// with a notice, or the lock screen with one.
func (s *shared) try(u kiosk.UserID, pin string) kiosk.View {
	s.t.Helper()
	if s.last.Prompt != kiosk.PromptPIN {
		s.last = kiosk.View{}
		s.e.ChooseUser(u)
		v := s.waitFor("the PIN pad or a refusal", func(v kiosk.View) bool {
			return v.Prompt == kiosk.PromptPIN || v.State == kiosk.StateLocked && v.Notice != nil
		})
		if v.Prompt != kiosk.PromptPIN {
			return v
		}
	}
	s.e.EnterPIN([]byte(pin))
	s.prompt(kiosk.PromptWorking)
	return s.waitFor("the answer to a PIN", func(v kiosk.View) bool {
		return v.State == kiosk.StateInSession || v.Notice != nil && (v.Prompt == kiosk.PromptPIN || v.State == kiosk.StateLocked)
	})
}

// signIn signs the person in and out again.
func (s *shared) signIn(u kiosk.UserID, pin string) {
	s.t.Helper()
	if v := s.try(u, pin); v.State != kiosk.StateInSession {
		s.t.Fatalf("%s could not sign in: %v %+v", u, v.State, v.Notice)
	}
	s.e.SignOut()
	s.waitFor("the lock screen after sign-out", func(v kiosk.View) bool { return v.State == kiosk.StateLocked })
	s.last = kiosk.View{}
}

func (s *shared) cancelPIN() {
	s.e.Cancel()
	s.waitFor("the lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked })
	s.last = kiosk.View{}
}

func (s *shared) counter() uint32 {
	s.t.Helper()
	l, err := s.tpm.Lockout(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return l.Failures
}

func pinOf(i int) string { return fmt.Sprintf("%06d", 135790+i*1111) }

// Ten people each type two wrong PINs, one after another, then all of
// them sign in. On swtpm's own parameters (3 failures) the second
// person's second typo would have paused PIN sign-in for everyone; here
// each person's PIN pad counts their own tries (9, then 8), and the TPM's
// counter (20 of 32) stays a backstop nobody reached.
func TestTenPeopleTwoTyposEachThenAllSignIn(t *testing.T) {
	s := newShared(t)
	if da := s.tpm.DAStatus(); !da.Managed || da.State.MaxTries != 32 || da.State.Interval != 600*time.Second {
		t.Fatalf("dictionary-attack parameters %+v", da)
	}
	var people []kiosk.UserID
	for i := 0; i < 10; i++ {
		people = append(people, s.enroll(fmt.Sprintf("person%d", i), pinOf(i)))
	}
	for i, u := range people {
		for want := 9; want >= 8; want-- {
			v := s.try(u, "000000")
			if v.Prompt != kiosk.PromptPIN || v.Notice.Code != kiosk.NoticeWrongPIN || v.Notice.Tries != want {
				t.Fatalf("person %d, wrong PIN: %v %v %+v; want the PIN pad with %d of their own tries", i, v.State, v.Prompt, v.Notice, want)
			}
		}
		s.cancelPIN()
	}
	if c := s.counter(); c != 20 {
		t.Errorf("TPM counter %d, want 20", c)
	}
	// Twenty failures across the terminal are a spike for IT to look at,
	// audited, and lock no one out.
	evs, err := s.db.Events(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	spikes := 0
	for _, e := range evs {
		if e.Type == kiosk.EventFailureSpike {
			spikes++
		}
	}
	if spikes != 1 {
		t.Errorf("%d failure-spike audit entries, want 1", spikes)
	}
	start := time.Now()
	for i, u := range people {
		s.signIn(u, pinOf(i))
	}
	t.Logf("10 TPM sign-ins on swtpm: %v each, through the engine", time.Since(start)/10)
}

// One person types 40 wrong PINs, waiting out every backoff, while the
// others sign in between their tries. Only they are backed off (from the
// fifth) and then suspended (at the tenth); the TPM sees ten wrong PINs,
// not forty, and everyone else signs in throughout. The count survives a
// clean restart of the appliance and the TPM (which costs no try), and
// IT's "users unsuspend" lifts it.
func TestOnePersonsFortyWrongPINsHoldUpNoOneElse(t *testing.T) {
	s := newShared(t)
	mallory := s.enroll("mallory", "975310")
	var others []kiosk.UserID
	for i := 0; i < 4; i++ {
		others = append(others, s.enroll(fmt.Sprintf("nurse%d", i), pinOf(i)))
	}
	var wrong, backoffs, suspendedRefusals int
	for attempt := 0; attempt < 40; attempt++ {
		v := s.try(mallory, "000000")
		switch {
		case v.Prompt == kiosk.PromptPIN && v.Notice.Code == kiosk.NoticeWrongPIN:
			wrong++
			if v.Notice.Tries != 10-wrong {
				t.Fatalf("attempt %d: %d tries shown, want %d", attempt, v.Notice.Tries, 10-wrong)
			}
			s.cancelPIN()
		case v.Notice.Code == kiosk.NoticeTooManyAttempts:
			if v.Notice.Tries > 0 {
				wrong++ // the wrong PIN that started this backoff
			}
			backoffs++
			s.clock.Advance(v.Notice.Until.Sub(s.clock.Now()) + time.Second)
		case v.Notice.Code == kiosk.NoticePlatformSuspended:
			if suspendedRefusals == 0 {
				wrong++ // the tenth wrong PIN
			}
			suspendedRefusals++
		default:
			t.Fatalf("attempt %d: %v %v %+v", attempt, v.State, v.Prompt, v.Notice)
		}
		// Someone else signs in between every try, whatever state the
		// guesser is in.
		n := attempt % len(others)
		s.signIn(others[n], pinOf(n))
	}
	if wrong != 10 || backoffs < 5 || suspendedRefusals < 20 {
		t.Fatalf("%d wrong PINs reached the TPM, %d backoffs, %d refusals while suspended", wrong, backoffs, suspendedRefusals)
	}
	if c := s.counter(); c != 10 {
		t.Fatalf("TPM counter %d after the guessing, want 10", c)
	}

	// A clean restart of the terminal.
	s.stop()
	s.start()
	if c := s.counter(); c != 10 {
		t.Fatalf("TPM counter %d after a clean restart, want still 10", c)
	}
	if v := s.try(mallory, "975310"); v.Notice == nil || v.Notice.Code != kiosk.NoticePlatformSuspended {
		t.Fatalf("after the restart: %v %+v; want still suspended", v.State, v.Notice)
	}
	s.signIn(others[0], pinOf(0))

	// IT lifts the suspension through the admin API's store.
	var a admin.PINTriesStore = storeport.NewAdmin(s.db, terminal)
	had, err := a.ClearPINTries(fmt.Sprintf("%x", []byte(mallory)), admin.Change{Actor: "uid 0 (root)", Detail: map[string]string{"admin-uid": "0"}})
	if err != nil || !had {
		t.Fatalf("unsuspend: %v, %v", had, err)
	}
	s.signIn(mallory, "975310")
}
