package engine

import (
	"context"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// ChooseUser starts a platform (TPM) sign-in for a lock-screen tile.
func (e *Engine) ChooseUser(id kiosk.UserID) {
	e.startPlatform(func() (kiosk.User, error) { return e.cfg.Store.User(id) })
}

// TypeUserName starts a platform sign-in for a typed name.
func (e *Engine) TypeUserName(name string) {
	e.startPlatform(func() (kiosk.User, error) { return e.cfg.Store.UserByName(name) })
}

// startPlatform starts a platform sign-in for the person lookup finds,
// from the lock screen only.
func (e *Engine) startPlatform(lookup func() (kiosk.User, error)) {
	e.mu.Lock()
	defer e.unlock()
	if !e.is(kiosk.StateLocked) {
		return
	}
	u, err := lookup()
	e.startPlatformLocked(u, err)
}

func (e *Engine) startPlatformLocked(u kiosk.User, err error) {
	notHere := &kiosk.Notice{Code: kiosk.NoticeNotAllowed, Kind: kiosk.KindNotFound, Tries: -1,
		Detail: "no passkey for that name on this terminal"}
	if err != nil {
		e.refuseLocked(kiosk.EventSignInFailed, "", notHere)
		return
	}
	if ok, reason := e.platformStatus(); !ok {
		e.refuseLocked(kiosk.EventSignInFailed, u.ID, &kiosk.Notice{Code: kiosk.NoticeNotAllowed, Kind: kiosk.KindNoTPM, Tries: -1, Detail: reason})
		return
	}
	cred, ok := e.platformCredentialLocked(u.ID)
	if !ok {
		e.refuseLocked(kiosk.EventSignInFailed, u.ID, notHere)
		return
	}
	if e.backoffLocked(userSubject(u.ID), u.ID) || e.pinGateLocked(&u) || e.pausedGateLocked(&u) {
		return
	}
	c := e.beginLocked(signInPlatform)
	c.user, c.platformCred = &u, &cred
	if err := e.admitLocked(&u, kiosk.AttachPlatform); err != nil {
		e.failLocked(kiosk.EventSignInFailed, err, cred.ID)
		return
	}
	e.view.Who = u.DisplayName
	e.askPINLocked(kiosk.StateVerifying)
}

func (e *Engine) platformCredentialLocked(u kiosk.UserID) (kiosk.Credential, bool) {
	creds, err := e.cfg.Store.Credentials(u)
	if err != nil {
		return kiosk.Credential{}, false
	}
	for _, c := range creds {
		if c.Attachment == kiosk.AttachPlatform {
			return c, true
		}
	}
	return kiosk.Credential{}, false
}

// platformAssertLocked signs with the person's TPM key, the TPM checking
// the PIN.
func (e *Engine) platformAssertLocked(pin []byte) {
	c := e.cer
	hash, err := e.newClientDataLocked(fido.TypeGet)
	if err != nil {
		zero(pin)
		e.failLocked(c.failed(), err, nil)
		return
	}
	cred := *c.platformCred
	e.waitLocked(e.cfg.Timeouts.Device)
	e.stepLocked(kiosk.StateVerifying, kiosk.PromptWorking)
	type result struct{ authData, sig []byte }
	e.deviceLocked(e.cfg.Timeouts.Device, func(ctx context.Context) any {
		defer zero(pin)
		ad, sig, err := e.cfg.Platform.Assert(ctx, cred, e.pol.RPID, hash, pin)
		if err != nil {
			return err
		}
		return result{ad, sig}
	}, func(res any) {
		if err, ok := res.(error); ok {
			switch kiosk.KindOf(err) {
			case kiosk.KindPINInvalid:
				e.platformWrongPINLocked(err, cred.ID)
				return
			case kiosk.KindTPMLockout:
				e.platformLockoutLocked(err, cred.ID)
				return
			}
			e.failLocked(c.failed(), err, cred.ID)
			return
		}
		r := res.(result)
		then := func() { e.signedInLocked(cred, "") }
		if c.kind == proving {
			then = func() { e.provedLocked(cred) }
		}
		e.verifyLocked(*c.user, cred, cred.ID, r.authData, r.sig, nil, then)
	})
}
