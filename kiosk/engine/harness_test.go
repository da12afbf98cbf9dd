package engine

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/policy"
)

// harness runs an engine on fakes. Views arrive on a channel; waitFor
// reads them until one matches. Its time bound is only a guard against a
// hung test, never a measurement.
type harness struct {
	t        *testing.T
	e        *Engine
	clock    *kiosktest.Clock
	store    *kiosktest.Store
	keys     *kiosktest.Keys
	platform *kiosktest.Platform
	sessions *kiosktest.Sessions
	views    chan kiosk.View
	last     kiosk.View
}

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC) // a Wednesday afternoon

var (
	alice = kiosk.User{ID: "u-alice", Name: "alice", DisplayName: "Alice Nurse", Groups: []string{"nurses"}}
	bob   = kiosk.User{ID: "u-bob", Name: "bob", DisplayName: "Bob Porter", Groups: []string{"porters"}}
)

func testPolicy() policy.Policy {
	p := policy.Default()
	p.Default.Program = []string{"/bin/true"}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return p
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	h := &harness{
		t: t, clock: kiosktest.NewClock(t0), store: kiosktest.NewStore(), keys: kiosktest.NewKeys(),
		platform: kiosktest.NewPlatform(), sessions: &kiosktest.Sessions{}, views: make(chan kiosk.View, 256),
	}
	h.store.AddUser(alice)
	h.store.AddUser(bob)
	cfg := Config{
		Terminal: "Ward 7 — bay 2", Policy: testPolicy(), Store: h.store, Keys: h.keys, Platform: h.platform,
		Sessions: h.sessions, Clock: h.clock, Timeouts: DefaultTimeouts,
		Publish: func(v kiosk.View) { h.views <- v },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h.e = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go h.e.Run(ctx)
	return h
}

// waitFor reads views until ok accepts one.
func (h *harness) waitFor(what string, ok func(kiosk.View) bool) kiosk.View {
	h.t.Helper()
	if ok(h.last) {
		return h.last
	}
	guard := time.After(10 * time.Second)
	for {
		select {
		case v := <-h.views:
			h.last = v
			if ok(v) {
				return v
			}
		case <-guard:
			h.t.Fatalf("never reached %s; last view: state %v prompt %v notice %+v", what, h.last.State, h.last.Prompt, h.last.Notice)
		}
	}
}

func (h *harness) waitPrompt(p kiosk.Prompt) kiosk.View {
	h.t.Helper()
	return h.waitFor(p.String(), func(v kiosk.View) bool { return v.Prompt == p })
}

func (h *harness) waitNotice(c kiosk.NoticeCode) kiosk.View {
	h.t.Helper()
	return h.waitFor("notice", func(v kiosk.View) bool { return v.Notice != nil && v.Notice.Code == c })
}

func (h *harness) waitState(s kiosk.State) kiosk.View {
	h.t.Helper()
	return h.waitFor(s.String(), func(v kiosk.View) bool { return v.State == s })
}

// drain forgets views published so far.
func (h *harness) drain() {
	for {
		select {
		case v := <-h.views:
			h.last = v
		default:
			return
		}
	}
}

func (h *harness) issueCode(code string, u kiosk.User) {
	h.store.IssueCode(code, u.ID, h.clock.Now().Add(time.Hour))
}

// enrollKey registers a security key for u through the engine's own
// enrollment flow, and unplugs it.
func (h *harness) enrollKey(k *kiosktest.Key, u kiosk.User, code string) {
	h.t.Helper()
	h.issueCode(code, u)
	h.e.StartEnrollment(code)
	h.waitPrompt(kiosk.PromptEnrollChoose)
	h.e.ChooseAttachment(kiosk.AttachRoaming)
	h.waitPrompt(kiosk.PromptInsertKey)
	h.keys.Plug(k)
	if k.Info.HasFingerprint {
		h.waitPrompt(kiosk.PromptEnrollDone)
	} else {
		h.waitPrompt(kiosk.PromptPIN)
		h.e.EnterPIN([]byte(pinOf(k)))
		h.waitPrompt(kiosk.PromptEnrollDone)
	}
	h.e.Cancel()
	h.waitPrompt(kiosk.PromptTouchOrChoose)
	h.unplug(k)
}

// unplug pulls k out and waits until the engine has seen it.
func (h *harness) unplug(k *kiosktest.Key) {
	h.t.Helper()
	h.drain()
	h.keys.Unplug(k)
	h.waitFor("key removed", func(v kiosk.View) bool { return !v.KeyPresent })
}

// pins of the fake keys in these tests.
var keyPINs = map[*kiosktest.Key]string{}

func newKey(id, pin string, fingerprint bool) *kiosktest.Key {
	k := kiosktest.NewKey(id, pin, fingerprint)
	keyPINs[k] = pin
	return k
}

func pinOf(k *kiosktest.Key) string { return keyPINs[k] }

// enrollPlatform registers a TPM passkey for u with pin.
func (h *harness) enrollPlatform(u kiosk.User, code, pin string) {
	h.t.Helper()
	h.issueCode(code, u)
	h.e.StartEnrollment(code)
	h.waitPrompt(kiosk.PromptEnrollChoose)
	h.e.ChooseAttachment(kiosk.AttachPlatform)
	h.waitPrompt(kiosk.PromptNewPIN)
	h.e.EnterPIN([]byte(pin))
	h.waitPrompt(kiosk.PromptEnrollDone)
	h.e.Cancel()
	h.waitPrompt(kiosk.PromptTouchOrChoose)
	h.drain()
}

// audited is the audit log once every entry queued so far is written:
// the engine writes them after letting go of its lock (Engine.unlock),
// holding auditMu until they are in.
func (h *harness) audited() []kiosk.AuditEvent {
	h.e.settle()
	return h.store.AuditLog()
}

func (h *harness) auditTypes() []kiosk.Event {
	var out []kiosk.Event
	for _, e := range h.audited() {
		out = append(out, e.Type)
	}
	return out
}

func (h *harness) hasAudit(typ kiosk.Event, outcome string) bool {
	for _, e := range h.audited() {
		if e.Type == typ && (outcome == "" || e.Outcome == outcome) {
			return true
		}
	}
	return false
}
