package engine

import (
	"bytes"
	"context"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// "Tap your key again to sign out". While a session signed in with a
// security key runs, the engine keeps one touch-only request outstanding
// on that key (allow list: the credential signed in with; no PIN, no
// fingerprint), so the key blinks as keys do when they wait for a touch.
// The touch comes back as an assertion that is verified like any other —
// fresh challenge, RP ID hash, UP flag, signature, counter — except that it
// proves only possession, so it may end a session but never start one.
//
// A key gives up waiting after its own timeout (about 30 s on most keys);
// the engine then asks again. Each request is bounded by Timeouts.Device
// as well. The wait is stopped while a backup is being registered (the
// key is needed for that) and when the session ends.

// tapRetryPause spaces requests after the key failed in a way that is
// neither a timeout nor a pulled key, so a confused key is not hammered.
const tapRetryPause = 5 * time.Second

// tapMaxProblems stops the wait after this many such failures in a row;
// the session goes on, it just cannot be ended by a tap.
const tapMaxProblems = 3

// watchTapLocked starts the touch-only request when the session allows it
// and nothing else needs the key.
func (e *Engine) watchTapLocked(as *activeSession) {
	if !as.tapEnds || as.tapHeld || as.keyID == "" || as.ending || as.tapCancel != nil || e.cer != nil || e.sess != as {
		return
	}
	if _, ok := e.keys[as.keyID]; !ok || e.cfg.Keys == nil {
		return
	}
	ch, err := e.challenges.Issue()
	if err != nil {
		e.cfg.Log.Error("tap to sign out: no challenge", "err", err)
		return
	}
	clientData := fido.ClientDataJSON(fido.TypeGet, ch, e.pol.Origin)
	req := kiosk.AssertRequest{RPID: e.pol.RPID, ClientDataHash: fido.ClientDataHash(clientData), AllowList: [][]byte{as.credID}}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeouts.Device)
	done := make(chan struct{})
	as.tapSeq++
	as.tapCancel, as.tapDone = cancel, done
	seq, key := as.tapSeq, as.keyID
	go func() {
		defer close(done)
		defer cancel()
		got, err := e.cfg.Keys.Assert(ctx, key, req)
		e.tapped(as, seq, got, err, ch, clientData)
	}()
}

// tapped handles the answer to touch-only request seq of session as.
func (e *Engine) tapped(as *activeSession, seq uint64, got []kiosk.KeyAssertion, err error, ch fido.Challenge, clientData []byte) {
	e.mu.Lock()
	defer e.unlock()
	if e.sess != as || as.ending || as.tapCancel == nil || as.tapSeq != seq {
		// Withdrawn on purpose, or the session is over: nothing to do.
		_ = e.challenges.Redeem(ch)
		return
	}
	as.tapCancel, as.tapDone = nil, nil
	if err == nil {
		err = e.verifyTapLocked(as, got, ch, clientData)
		if err == nil {
			e.audit(kiosk.AuditEvent{Type: kiosk.EventKeyTapped, User: as.user.ID, Credential: as.credID, Outcome: "ok"})
			e.endSessionLocked(kiosk.EndKeyTapped)
			return
		}
		// What came back did not verify: that is not the person's key
		// behaving, so stop listening to it and say so in the audit log.
		kind := kiosk.KindOf(err)
		e.audit(kiosk.AuditEvent{Type: kiosk.EventKeyTapFailed, User: as.user.ID, Credential: as.credID,
			Outcome: kind.String(), Kind: kind, Detail: map[string]string{"error": err.Error()}})
		if kind == kiosk.KindCounterRegression {
			e.audit(kiosk.AuditEvent{Type: kiosk.EventPossibleClone, User: as.user.ID, Credential: as.credID, Outcome: kind.String(), Kind: kind})
		}
		as.tapHeld, as.tapStopped = true, true
		e.refreshSessionLocked(as)
		return
	}
	_ = e.challenges.Redeem(ch)
	switch kiosk.KindOf(err) {
	case kiosk.KindTimeout, kiosk.KindNotAllowed, kiosk.KindCancelled:
		// The key, or our bound, gave up waiting, or someone held the
		// button to refuse: ask again.
		as.tapProblems = 0
		e.watchTapLocked(as)
	case kiosk.KindDeviceBusy:
		// Still finishing a request it was asked before: ask again in a
		// moment; that is not the key failing.
		e.pauseTapLocked(as)
	case kiosk.KindDeviceGone:
		// The removal event decides what happens to the session; a key
		// put back is a new plug-in, not this one.
		as.tapHeld, as.tapStopped = true, true
		e.refreshSessionLocked(as)
	default:
		as.tapProblems++
		e.cfg.Log.Warn("tap to sign out: the key failed", "err", err, "in a row", as.tapProblems)
		if as.tapProblems < tapMaxProblems {
			e.pauseTapLocked(as)
			return
		}
		// Given up: the session screen says to use Sign out.
		as.tapHeld, as.tapStopped = true, true
		e.audit(kiosk.AuditEvent{Type: kiosk.EventKeyTapFailed, User: as.user.ID, Credential: as.credID,
			Outcome: kiosk.KindOf(err).String(), Kind: kiosk.KindOf(err), Detail: map[string]string{"error": err.Error(), "stopped": "true"}})
		e.refreshSessionLocked(as)
	}
}

// pauseTapLocked stops asking the key for tapRetryPause, then asks again.
func (e *Engine) pauseTapLocked(as *activeSession) {
	as.tapHeld = true
	e.cfg.Clock.AfterFunc(tapRetryPause, func() {
		e.mu.Lock()
		defer e.unlock()
		as.tapHeld = false
		e.refreshSessionLocked(as)
	})
	e.refreshSessionLocked(as)
}

// verifyTapLocked checks a touch-only assertion: the challenge is ours
// and fresh, it comes from the credential the session signed in with, and
// fido's §7.2 checks pass with UP required and UV not. The counter is
// recorded so that a clone still shows at the next sign-in.
func (e *Engine) verifyTapLocked(as *activeSession, got []kiosk.KeyAssertion, ch fido.Challenge, clientData []byte) error {
	const op = "tap to sign out"
	if err := e.challenges.Redeem(ch); err != nil {
		return err
	}
	if len(got) != 1 || !bytes.Equal(got[0].CredentialID, as.credID) {
		return kiosk.Errorf(kiosk.KindBadSignature, op, "the key answered with another credential")
	}
	cred, err := e.cfg.Store.Credential(as.credID)
	if err != nil {
		return err
	}
	a := got[0]
	res, err := fido.VerifyAssertion(fido.AssertionInput{
		RPID: e.pol.RPID, Origin: e.pol.Origin, Challenge: ch,
		Credential: fido.StoredCredential{ID: cred.ID, PublicKey: cred.PublicKey, Counter: cred.Counter,
			UserHandle: []byte(cred.User), BackupEligible: cred.BackupEligible},
		CredentialID: cred.ID, AuthData: a.AuthData, ClientDataJSON: clientData, Signature: a.Signature,
		UserHandle: a.UserHandle, RequireUV: false,
	})
	if err != nil {
		return err
	}
	return e.cfg.Store.RecordSignIn(cred.ID, res.Counter, e.cfg.Clock.Now())
}

// stopTapLocked withdraws the touch-only request, if any, and returns a
// channel closed once the key is free again (already closed when there
// was none).
func (e *Engine) stopTapLocked(as *activeSession) <-chan struct{} {
	if as == nil || as.tapCancel == nil {
		return closed
	}
	done := as.tapDone
	as.tapCancel()
	as.tapCancel, as.tapDone = nil, nil
	return done
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
