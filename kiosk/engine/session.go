package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
)

// activeSession is the engine's side of a running session.
type activeSession struct {
	s        kiosk.Session
	user     kiosk.User
	credID   []byte
	keyID    string // the key signed in with; "" for platform sign-in
	rules    policy.Rules
	started  time.Time
	endsAt   time.Time
	activity time.Time // last input to the kiosk's own window
	input    time.Time // last input to the session, as last measured
	running  bool
	warning  bool
	ending   bool
	revoked  bool          // the fleet directory stopped the person: ends at idle as "revoked" (fleet.go)
	ended    chan struct{} // closed once the end is wiped and audited
	maxTimer kiosk.Timer
	idle     kiosk.Timer

	// Tap to sign out (tap.go).
	tapEnds     bool               // policy at sign-in: a touch on the key ends the session
	tapSeq      uint64             // numbers the touch-only requests
	tapCancel   context.CancelFunc // withdraws the one outstanding, nil if none
	tapDone     chan struct{}      // closed when it has returned
	tapProblems int                // key failures in a row
	tapHeld     bool               // not listening: the key misbehaved
	tapStopped  bool               // held for good: the screen says so
}

// signedInLocked: the person is verified; audit and start their session.
func (e *Engine) signedInLocked(cred kiosk.Credential, keyID string) {
	c := e.cer
	user := *c.user
	now := e.cfg.Clock.Now()
	rules := e.rulesLocked(user.Groups)
	limit := rules.SessionLimit(now) // ends with the person's hours
	if limit <= 0 {
		// The hours ended between admission and now.
		e.audit(kiosk.AuditEvent{Type: kiosk.EventSignInFailed, User: user.ID, Credential: cred.ID,
			Outcome: kiosk.KindPolicy.String(), Kind: kiosk.KindPolicy, Detail: map[string]string{"reason": "outside the allowed hours"}})
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeNotAllowed, Kind: kiosk.KindPolicy, Tries: -1,
			Detail: "sign-in is not allowed at this hour for your group"})
		return
	}
	e.fails.reset(userSubject(user.ID))
	e.clearPINTriesLocked(user.ID, "sign-in with "+cred.Attachment.String())
	e.audit(kiosk.AuditEvent{Type: kiosk.EventSignIn, User: user.ID, Credential: cred.ID, Outcome: "ok",
		Detail: map[string]string{"method": cred.Attachment.String()}})
	e.abandonLocked()
	e.gen++
	e.stopWaitLocked()
	e.starting = true
	e.startingFor = &pendingSession{user: user.ID, cred: cred.ID}
	e.enterLocked()
	spec := kiosk.SessionSpec{User: user, Program: rules.Program, MaxDuration: limit}
	as := &activeSession{user: user, credID: cred.ID, keyID: keyID, rules: rules,
		started: now, endsAt: now.Add(limit), running: true, ended: make(chan struct{})}
	go e.startSession(spec, e.gen, as)
}

// startSession starts the session program for as, bounded by the device
// timeout, off the engine's lock (a sandbox takes a while), then opens the
// session, unless the engine moved on meanwhile (gen).
func (e *Engine) startSession(spec kiosk.SessionSpec, gen uint64, as *activeSession) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeouts.Device)
	defer cancel()
	s, err := e.cfg.Sessions.Start(ctx, spec)
	e.mu.Lock()
	defer e.unlock()
	e.starting = false
	pending := e.startingFor
	e.startingFor = nil
	if err != nil {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventSessionStartFailed, User: as.user.ID, Outcome: kiosk.KindOf(err).String(),
			Kind: kiosk.KindOf(err), Detail: map[string]string{"error": err.Error()}})
		e.lockLocked(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Kind: kiosk.KindOf(err), Tries: -1, Detail: "the session could not start"})
		return
	}
	if e.gen != gen {
		// Something else happened meanwhile (should not: nothing else
		// runs in this state); do not leave the session behind.
		go s.End(kiosk.EndSuperseded, "started after the engine had moved on")
		e.enterLocked()
		return
	}
	as.s, as.activity, as.tapEnds = s, e.cfg.Clock.Now(), e.pol.KeyTapEndsSession
	e.openSessionLocked(as, spec.MaxDuration, pending)
}

// openSessionLocked makes as, whose program runs, the session: audited,
// ended at its time limit or when idle, its program watched, the session
// screen shown. A person the fleet stopped while it started (pending) is
// signed out at once.
func (e *Engine) openSessionLocked(as *activeSession, limit time.Duration, pending *pendingSession) {
	e.sess = as
	e.audit(kiosk.AuditEvent{Type: kiosk.EventSessionOpened, User: as.user.ID, Credential: as.credID, Outcome: "ok",
		Detail: e.sessionDetailLocked(as.s.ID(), limit)})
	as.maxTimer = e.cfg.Clock.AfterFunc(limit, func() { e.endSession(as, kiosk.EndTimeLimit) })
	e.scheduleIdleLocked(as)
	e.watchProgram(as)
	e.view.Notice = nil
	e.showSessionLocked()
	if pending != nil && pending.revoked {
		// The fleet stopped the person while their session started.
		as.revoked = true
		e.audit(kiosk.AuditEvent{Type: kiosk.EventFleetRevoked, User: as.user.ID, Credential: as.credID, Outcome: "session-at-once",
			Detail: map[string]string{"session": as.s.ID(), "ends": "at-once", "when": "while starting"}})
		e.endSessionLocked(kiosk.EndRevoked)
	}
}

// watchProgram marks the program as exited when it exits.
func (e *Engine) watchProgram(as *activeSession) {
	exited := as.s.Exited()
	go func() {
		<-exited
		e.mu.Lock()
		defer e.unlock()
		if e.sess != as || as.ending {
			return
		}
		as.running = false
		e.audit(kiosk.AuditEvent{Type: kiosk.EventProgramExited, User: as.user.ID, Outcome: "exited",
			Detail: map[string]string{"session": as.s.ID()}})
		if e.is(kiosk.StateInSession) {
			e.showSessionLocked()
		}
	}()
}

// showSessionLocked shows the in-session screen, and keeps the key
// waiting for a tap when that ends the session.
func (e *Engine) showSessionLocked() {
	as := e.sess
	e.watchTapLocked(as)
	creds, _ := e.cfg.Store.Credentials(as.user.ID)
	sv := &kiosk.SessionView{User: as.user.ID, DisplayName: as.user.DisplayName, Started: as.started,
		EndsAt: as.endsAt, ProgramRunning: as.running, BackupMissing: len(creds) < e.pol.MinCredentials,
		TapToSignOut: as.tapCancel != nil, TapUnavailable: as.tapStopped}
	if as.warning {
		sv.IdleEndsAt = e.lastInputLocked(as).Add(as.rules.IdleTimeout)
	}
	e.view.Session = sv
	e.view.Who = as.user.DisplayName
	e.enterLocked()
}

// refreshSessionLocked shows the session screen again if it is showing
// for as.
func (e *Engine) refreshSessionLocked(as *activeSession) {
	if e.sess == as && e.is(kiosk.StateInSession) {
		e.showSessionLocked()
	}
}

// lastInputLocked is the later of input to our window and input to the
// session as last measured (sessionInput, outside the lock).
func (e *Engine) lastInputLocked(as *activeSession) time.Time {
	if as.input.After(as.activity) {
		return as.input
	}
	return as.activity
}

// sessionInput asks when the session last saw input; the answer may take
// a display round trip (X11), so it is asked without the engine's lock.
func (e *Engine) sessionInput() time.Time {
	if in, ok := e.cfg.Sessions.(kiosk.InputIdle); ok {
		return in.LastInput()
	}
	return time.Time{}
}

// scheduleIdleLocked arms the idle timer for the earliest moment the
// warning could be due; when it fires it looks at the real last input and
// either warns, ends, or re-arms.
func (e *Engine) scheduleIdleLocked(as *activeSession) {
	if as.idle != nil {
		as.idle.Stop()
	}
	now := e.cfg.Clock.Now()
	last := e.lastInputLocked(as)
	warnAt := last.Add(as.rules.IdleTimeout - as.rules.IdleWarning)
	endAt := last.Add(as.rules.IdleTimeout)
	next := warnAt
	if as.warning {
		next = endAt
	}
	as.idle = e.cfg.Clock.AfterFunc(max(next.Sub(now), 0), func() {
		input := e.sessionInput()
		e.mu.Lock()
		defer e.unlock()
		if e.sess != as || as.ending {
			return
		}
		if input.After(as.input) {
			as.input = input
		}
		now := e.cfg.Clock.Now()
		last := e.lastInputLocked(as)
		switch {
		case !now.Before(last.Add(as.rules.IdleTimeout)):
			if as.revoked {
				e.endSessionLocked(kiosk.EndRevoked)
				return
			}
			e.endSessionLocked(kiosk.EndIdle)
			return
		case !now.Before(last.Add(as.rules.IdleTimeout - as.rules.IdleWarning)):
			if !as.warning {
				as.warning = true
				e.audit(kiosk.AuditEvent{Type: kiosk.EventIdleWarning, User: as.user.ID, Outcome: "warned"})
			}
		default:
			as.warning = false
		}
		e.scheduleIdleLocked(as)
		if e.is(kiosk.StateInSession) {
			e.showSessionLocked()
		}
	})
}

// Activity reports input to the kiosk's window.
func (e *Engine) Activity() {
	e.mu.Lock()
	defer e.unlock()
	as := e.sess
	if as == nil || as.ending {
		return
	}
	as.activity = e.cfg.Clock.Now()
	if as.warning {
		as.warning = false
		if e.is(kiosk.StateInSession) {
			e.showSessionLocked()
		}
	}
	e.scheduleIdleLocked(as)
}

// StillHere answers the idle warning.
func (e *Engine) StillHere() { e.Activity() }

// SignOut ends the session.
func (e *Engine) SignOut() {
	e.mu.Lock()
	defer e.unlock()
	if e.sess != nil {
		e.endSessionLocked(kiosk.EndLogout)
	}
}

// EndSession ends the session, if one runs, for cause (an administrator,
// the appliance stopping); it returns at once, and false when there was
// no session to end.
func (e *Engine) EndSession(cause kiosk.EndCause) bool {
	return e.endSessionFor(cause) != nil
}

// Shutdown ends the session, if one runs, as the appliance stops, and
// waits until its wipe is done and audited or ctx ends.
func (e *Engine) Shutdown(ctx context.Context) error {
	ended := e.endSessionFor(kiosk.EndShutdown)
	if ended == nil {
		return nil
	}
	select {
	case <-ended:
		e.settle()
		return nil
	case <-ctx.Done():
		return kiosk.E(kiosk.KindTimeout, "end the session at shutdown", ctx.Err())
	}
}

// endSessionFor starts ending the session and returns the channel closed
// when it has ended, nil when there is no session.
func (e *Engine) endSessionFor(cause kiosk.EndCause) <-chan struct{} {
	e.mu.Lock()
	defer e.unlock()
	as := e.sess
	if as == nil {
		return nil
	}
	e.endSessionLocked(cause)
	return as.ended
}

// RelaunchProgram starts the session program again.
func (e *Engine) RelaunchProgram() {
	e.mu.Lock()
	defer e.unlock()
	as := e.sess
	if as == nil || as.running || as.ending || as.revoked {
		return
	}
	if err := as.s.Relaunch(); err != nil {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventRelaunchFailed, User: as.user.ID, Outcome: kiosk.KindOf(err).String(),
			Detail: map[string]string{"error": err.Error()}})
		return
	}
	as.running = true
	e.watchProgram(as)
	e.showSessionLocked()
}

func (e *Engine) endSession(as *activeSession, cause kiosk.EndCause) {
	e.mu.Lock()
	defer e.unlock()
	if e.sess == as {
		e.endSessionLocked(cause)
	}
}

// endSessionLocked ends the session: every process stopped, the workspace
// wiped and checked, the result audited. A wipe that leaves anything
// behind takes the terminal out of service: the next person must not see
// the last one's files.
func (e *Engine) endSessionLocked(cause kiosk.EndCause) {
	as := e.sess
	if as == nil || as.ending {
		return
	}
	as.ending = true
	keyFree := e.stopTapLocked(as)
	as.maxTimer.Stop()
	if as.idle != nil {
		as.idle.Stop()
	}
	e.abandonLocked()
	e.gen++
	e.stopWaitLocked()
	e.enterLocked()
	go func() {
		rep, err := as.s.End(cause, "")
		<-keyFree // the key is free for the lock screen (bounded by Timeouts.Device)
		e.mu.Lock()
		defer e.unlock()
		defer close(as.ended)
		e.sess = nil
		detail := map[string]string{
			"session": as.s.ID(), "cause": cause.String(),
			"processes": strconv.Itoa(rep.Processes), "files": strconv.Itoa(rep.Files + rep.OutsideFiles),
			"bytes": strconv.FormatInt(rep.Bytes+rep.OutsideBytes, 10), "duration": rep.Total.String(),
		}
		if rep.X11Removed != 0 || rep.X11Left != 0 {
			detail["display_access_removed"] = strconv.Itoa(rep.X11Removed)
			detail["display_access_left"] = strconv.Itoa(rep.X11Left)
		}
		e.audit(kiosk.AuditEvent{Type: kiosk.EventSessionEnded, User: as.user.ID, Credential: as.credID, Outcome: cause.String(), Detail: detail})
		if err != nil || !rep.Clean() {
			reason := fmt.Sprintf("the last session was not wiped completely (%d processes, %d files left)", rep.Remaining, rep.RemainingFiles)
			if rep.X11Left != 0 {
				reason = fmt.Sprintf("the last session was not wiped completely (%d processes, %d files, %d display access entries left)",
					rep.Remaining, rep.RemainingFiles, rep.X11Left)
			}
			if err != nil {
				reason = "the last session could not be wiped: " + err.Error()
			}
			e.audit(kiosk.AuditEvent{Type: kiosk.EventWipe, User: as.user.ID, Outcome: "incomplete", Kind: kiosk.KindOf(err), Detail: map[string]string{"reason": reason}})
			e.outOfServiceLocked(reason)
			return
		}
		e.audit(kiosk.AuditEvent{Type: kiosk.EventWipe, User: as.user.ID, Outcome: "ok", Detail: detail})
		e.lockLocked(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: cause})
	}()
}
