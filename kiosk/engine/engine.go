package engine

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
)

// Timeouts bound every wait outside a session.
type Timeouts struct {
	PIN    time.Duration // PIN pad shown, nothing typed
	Device time.Duration // a touch, a fingerprint, a key operation
	Picker time.Duration // account picker shown
	Enroll time.Duration // each enrollment step
	Notice time.Duration // a notice stays before the lock screen clears it
}

// DefaultTimeouts suit a ward terminal.
var DefaultTimeouts = Timeouts{
	PIN: 60 * time.Second, Device: 30 * time.Second, Picker: 30 * time.Second,
	Enroll: 120 * time.Second, Notice: 8 * time.Second,
}

// Config wires an engine.
type Config struct {
	Terminal string
	Policy   policy.Policy // validated
	Store    kiosk.Store
	Keys     kiosk.RoamingKeys // nil: no security keys on this terminal
	Platform kiosk.Platform    // nil: no TPM
	Sessions kiosk.Sessions
	Clock    kiosk.Clock
	Timeouts Timeouts
	// Publish receives every new View. It is called with the engine's lock
	// held, in order, and must not call back into the engine synchronously.
	Publish func(kiosk.View)
	// OutOfService, when not empty, starts the engine out of service with
	// this reason (for example: the database did not open).
	OutOfService string
	// Place is where the terminal stands, for the policy's place rules
	// (SetPlace changes it).
	Place policy.Place
	Log   *slog.Logger
}

// Engine is the sign-in state machine. It implements kiosk.Commands.
type Engine struct {
	cfg        Config
	pol        *policy.Policy
	challenges *fido.Challenges
	fails      *failures

	// mu guards the engine's state. Methods that hold it end with e.unlock,
	// which writes the audit entries they queued after letting go of it:
	// no bbolt write (an fsync) happens under the lock.
	mu      sync.Mutex
	pending []kiosk.AuditEvent // queued under mu, written by unlock
	auditMu sync.Mutex         // keeps the entries in the order they were queued
	view    kiosk.View
	gen     uint64 // bumped whenever the current ceremony changes
	cer     *ceremony
	sess    *activeSession
	keys    map[string]kiosk.KeyInfo
	// lastKey is the key plugged in last, for UseKey.
	lastKey string
	// outOfService, when not empty, is why the terminal cannot sign
	// anyone in; starting is set while a verified person's session starts.
	outOfService string
	starting     bool
	startingFor  *pendingSession // whose session is starting (fleet.go)
	started      bool            // the first state has been entered (and logged)
	wait         kiosk.Timer     // the deadline of the current bounded wait
	clear        kiosk.Timer     // clears a notice on the lock screen
	// pinMem counts wrong TPM PINs in a row when the store does not
	// (pintries.go).
	pinMem map[kiosk.UserID]pinCount
	// offlineSince is when the fleet directory was last reached, while
	// it cannot be (fleet.go); zero otherwise.
	offlineSince time.Time
	// keysRefused, when not empty, is why security keys are refused:
	// the terminal's copy of the directory is too old (fleet.go).
	keysRefused string
}

var _ kiosk.Commands = (*Engine)(nil)

// New returns an engine on the lock screen, or out of service when
// cfg.OutOfService says so.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = kiosk.SystemClock{}
	}
	if cfg.Timeouts == (Timeouts{}) {
		cfg.Timeouts = DefaultTimeouts
	}
	cfg.Log = kiosk.LogOr(cfg.Log)
	if cfg.Publish == nil {
		cfg.Publish = func(kiosk.View) {}
	}
	e := &Engine{
		cfg:        cfg,
		pol:        &cfg.Policy,
		challenges: fido.NewChallenges(cfg.Timeouts.Enroll+cfg.Timeouts.Device, 16, cfg.Clock.Now),
		fails:      newFailures(cfg.Policy.Lockout),
		keys:       map[string]kiosk.KeyInfo{},
		pinMem:     map[kiosk.UserID]pinCount{},
	}
	e.mu.Lock()
	defer e.unlock()
	e.view.Terminal = cfg.Terminal
	if cfg.OutOfService != "" {
		e.outOfServiceLocked(cfg.OutOfService)
		return e
	}
	if h, ok := cfg.Store.(kiosk.FailureHistory); ok {
		// A restart does not lift a backoff.
		now := cfg.Clock.Now()
		past, err := h.RecentFailures(now.Add(-cfg.Policy.Lockout.Window))
		if err != nil {
			cfg.Log.Error("reading recent failures", "err", err)
		}
		e.fails.seed(past, now)
	}
	if cfg.Keys != nil {
		for _, k := range cfg.Keys.Present() {
			e.keys[k.ID] = k
		}
	}
	e.lockLocked(nil)
	return e
}

// Run consumes key events until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	if e.cfg.Keys == nil {
		<-ctx.Done()
		return
	}
	events := e.cfg.Keys.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			e.keyEvent(ev)
		}
	}
}

// View returns the current view.
func (e *Engine) View() kiosk.View {
	e.mu.Lock()
	defer e.unlock()
	return e.view
}

// publishLocked sends the current view.
func (e *Engine) publishLocked() {
	e.view.KeyPresent = len(e.keys) > 0
	e.view.OfflineSince = e.offlineSince
	e.cfg.Publish(e.view)
}

// stateLocked is where the engine is, derived from its facts alone, in
// one place: out of service; a ceremony at the step it waits at; a
// verified person's session starting; a session running, warned of its
// idle end, or ending; else the lock screen.
func (e *Engine) stateLocked() (kiosk.State, kiosk.Prompt) {
	switch {
	case e.outOfService != "":
		return kiosk.StateOutOfService, kiosk.PromptNone
	case e.cer != nil:
		return e.cer.state, e.cer.step
	case e.starting:
		return kiosk.StateVerifying, kiosk.PromptWorking
	case e.sess != nil && e.sess.ending:
		return kiosk.StateEnding, kiosk.PromptWorking
	case e.sess != nil && e.sess.warning:
		return kiosk.StateInSession, kiosk.PromptIdleWarning
	case e.sess != nil:
		return kiosk.StateInSession, kiosk.PromptSession
	}
	return kiosk.StateLocked, kiosk.PromptTouchOrChoose
}

// is reports whether the engine is in state s.
func (e *Engine) is(s kiosk.State) bool {
	st, _ := e.stateLocked()
	return st == s
}

// enterLocked puts the derived state in the view and publishes it.
func (e *Engine) enterLocked() {
	s, p := e.stateLocked()
	switch {
	case !e.started:
		e.started = true
		e.cfg.Log.Info("state", "start", s)
	case e.view.State != s:
		e.cfg.Log.Info("state", "from", e.view.State, "to", s)
	}
	e.view.State, e.view.Prompt = s, p
	e.view.Reauth = e.cer != nil && e.cer.kind == proving
	e.publishLocked()
}

// stepLocked moves the ceremony to its next step and shows it.
func (e *Engine) stepLocked(s kiosk.State, p kiosk.Prompt) {
	e.cer.state, e.cer.step = s, p
	e.enterLocked()
}

// waitLocked bounds the current prompt: after d, unless the ceremony has
// moved on, back to the lock screen with a timed-out notice.
func (e *Engine) waitLocked(d time.Duration) {
	if e.wait != nil {
		e.wait.Stop()
	}
	e.view.Deadline = e.cfg.Clock.Now().Add(d)
	gen := e.gen
	e.wait = e.cfg.Clock.AfterFunc(d, func() {
		e.mu.Lock()
		defer e.unlock()
		if e.gen != gen || e.cer == nil {
			return
		}
		if e.cer.step == kiosk.PromptEnrollDone {
			e.endCeremonyLocked(e.view.Notice)
			return
		}
		detail := map[string]string{"prompt": e.cer.step.String()}
		if e.cer.kind == proving {
			detail["ceremony"] = "reauth"
		}
		e.audit(kiosk.AuditEvent{Type: kiosk.EventTimedOut, User: e.cer.userID(), Outcome: "timeout", Kind: kiosk.KindTimeout,
			Detail: detail})
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeTimedOut, Kind: kiosk.KindTimeout, Tries: -1})
	})
}

func (e *Engine) stopWaitLocked() {
	if e.wait != nil {
		e.wait.Stop()
		e.wait = nil
	}
	e.view.Deadline = time.Time{}
}

// lockLocked shows the lock screen, with a notice that clears itself.
func (e *Engine) lockLocked(n *kiosk.Notice) {
	if e.cer != nil {
		e.abandonLocked()
		e.gen++
	}
	e.stopWaitLocked()
	e.view.Who, e.view.Accounts, e.view.UnknownAccounts, e.view.Session = "", nil, 0, nil
	e.view.PINMinLength = 0
	e.view.Notice = n
	e.view.PlatformAvailable, e.view.PlatformReason = e.platformStatus()
	e.view.Tiles = e.tiles()
	if e.clear != nil {
		e.clear.Stop()
	}
	if n != nil {
		gen := e.gen
		e.clear = e.cfg.Clock.AfterFunc(e.cfg.Timeouts.Notice, func() {
			e.mu.Lock()
			defer e.unlock()
			if e.gen == gen && e.is(kiosk.StateLocked) {
				e.view.Notice = nil
				e.publishLocked()
			}
		})
	}
	e.enterLocked()
}

func (e *Engine) outOfServiceLocked(reason string) {
	e.gen++
	e.stopWaitLocked()
	e.outOfService = reason
	e.view = kiosk.View{Terminal: e.cfg.Terminal, OutOfService: reason}
	e.cfg.Log.Error("out of service", "reason", reason)
	e.enterLocked()
}

func (e *Engine) platformStatus() (bool, string) {
	if e.cfg.Platform == nil {
		return false, "this terminal has no TPM"
	}
	if !e.pol.Platform.Enabled {
		return false, "turned off by policy"
	}
	return e.cfg.Platform.Status()
}

func (e *Engine) tiles() []kiosk.Tile {
	if !e.pol.ShowTiles || e.cfg.Platform == nil {
		return nil
	}
	if ok, _ := e.platformStatus(); !ok {
		return nil
	}
	users, err := e.cfg.Store.Users()
	if err != nil {
		e.cfg.Log.Error("listing users", "err", err)
		return nil
	}
	var tiles []kiosk.Tile
	for _, u := range users {
		if u.Disabled {
			continue
		}
		creds, err := e.cfg.Store.Credentials(u.ID)
		if err != nil {
			continue
		}
		for _, c := range creds {
			if c.Attachment == kiosk.AttachPlatform {
				tiles = append(tiles, kiosk.Tile{User: u.ID, DisplayName: u.DisplayName})
				break
			}
		}
	}
	return tiles
}

// audit queues an event, stamped now, for unlock to write. Called with
// e.mu held.
func (e *Engine) audit(ev kiosk.AuditEvent) {
	if ev.Time.IsZero() {
		ev.Time = e.cfg.Clock.Now()
	}
	if ev.Detail == nil {
		ev.Detail = map[string]string{}
	}
	ev.Detail["terminal"] = e.cfg.Terminal
	e.pending = append(e.pending, ev)
}

// settle returns once every audit entry queued so far is written.
func (e *Engine) settle() {
	e.mu.Lock()
	e.auditMu.Lock()
	e.mu.Unlock()
	e.auditMu.Unlock()
}

// unlock releases e.mu, then writes the audit entries queued while it was
// held, in order. A failure to audit is logged loudly but does not stop
// the terminal (the admin status shows it).
func (e *Engine) unlock() {
	evs := e.pending
	if len(evs) == 0 {
		e.mu.Unlock()
		return
	}
	e.pending = nil
	e.auditMu.Lock() // before e.mu goes: a later holder's entries wait for these
	e.mu.Unlock()
	defer e.auditMu.Unlock()
	for _, ev := range evs {
		if err := e.cfg.Store.Audit(ev); err != nil {
			e.cfg.Log.Error("audit append failed", "event", ev.Type, "err", err)
		}
	}
}

// device runs fn, a device operation, in its own goroutine under a
// timeout, then applies done with the engine locked, but only if the
// ceremony that started it is still current.
func (e *Engine) deviceLocked(timeout time.Duration, fn func(ctx context.Context) any, done func(result any)) {
	gen := e.gen
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	if e.cer != nil {
		e.cer.cancel = cancel
	}
	go func() {
		defer cancel()
		res := fn(ctx)
		e.mu.Lock()
		defer e.unlock()
		if e.gen != gen {
			return
		}
		done(res)
	}()
}

// zero overwrites a secret.
func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// refreshLockScreenLocked recomputes what the lock screen offers (the
// platform passkey, the tiles) and shows it, if the lock screen is up.
func (e *Engine) refreshLockScreenLocked() {
	if e.is(kiosk.StateLocked) {
		e.view.PlatformAvailable, e.view.PlatformReason = e.platformStatus()
		e.view.Tiles = e.tiles()
		e.publishLocked()
	}
}

// PeopleChanged is told that people or their credentials changed (an
// administrator disabled, removed or edited someone): the lock screen, if
// it shows, drops the tiles of people who can no longer sign in here at
// once.
func (e *Engine) PeopleChanged() {
	e.mu.Lock()
	defer e.unlock()
	e.refreshLockScreenLocked()
}

// SetPolicy applies a new, validated policy. Ceremonies already under way
// finish under the policy they started with where it matters (their
// challenge and client data), but every decision from now on uses the new
// one; a running session keeps its limits.
func (e *Engine) SetPolicy(p policy.Policy) error {
	if err := p.Validate(); err != nil {
		return kiosk.E(kiosk.KindPolicy, "set policy", err)
	}
	e.mu.Lock()
	defer e.unlock()
	e.cfg.Policy = p
	e.pol = &e.cfg.Policy
	e.fails.pol = p.Lockout
	e.audit(kiosk.AuditEvent{Type: kiosk.EventPolicyApplied, Outcome: "ok", Detail: map[string]string{"version": strconv.Itoa(p.Version)}})
	e.refreshLockScreenLocked()
	return nil
}

// Policy returns the policy in force.
func (e *Engine) Policy() policy.Policy {
	e.mu.Lock()
	defer e.unlock()
	return e.cfg.Policy
}
