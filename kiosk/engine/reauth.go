package engine

import (
	"context"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// A backup registered from inside a session is a new way to sign in as
// the person, so it is not had for the asking: anything running in the
// session could press "add a backup" and choose the PIN of a passkey of
// its own (through XTEST, under X11). Before the enrollment starts, the
// person proves it is still them with what they have registered: the PIN
// of their passkey in this terminal's TPM, or a security key registered
// to them, with user verification as at sign-in. The proof is a sign-in
// in all but its end: a fresh challenge, the same verification (RP ID
// hash, UP and UV flags, signature, counter, the key's model), counted
// against the person's wrong PINs and backoff, and audited (EventReauth,
// EventReauthFailed). A failed, timed-out or cancelled proof returns to
// the session with NoticeBackupNotConfirmed and registers nothing.

// AddBackup registers another credential for the signed-in person, once
// they have proved it is still them.
func (e *Engine) AddBackup() {
	e.mu.Lock()
	defer e.unlock()
	as := e.sess
	if as == nil || !e.is(kiosk.StateInSession) {
		return
	}
	if b, ok := e.cfg.Store.(kiosk.BackupsElsewhere); ok {
		if err := b.NoBackupHere(); err != nil {
			e.audit(kiosk.AuditEvent{Type: kiosk.EventReauthFailed, User: as.user.ID, Outcome: kiosk.KindOf(err).String(), Kind: kiosk.KindOf(err),
				Detail: map[string]string{"reason": err.Error()}})
			e.view.Notice = &kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindOf(err), Tries: -1}
			e.showSessionLocked()
			return
		}
	}
	c := e.beginLocked(proving)
	u := as.user
	c.user, c.backup = &u, true
	c.keyFree = e.stopTapLocked(as)
	e.view.Who = u.DisplayName
	if len(e.registrableLocked(c.user)) == 0 {
		// Nothing could be registered after the proof: say so now,
		// without asking for it.
		c.kind = enrolling
		e.chooseAttachmentLocked()
		return
	}
	e.askProofLocked(as)
}

// askProofLocked picks how the person proves it is them: the security
// key the session was signed in with, when it is still plugged in; else
// the PIN of their platform passkey, when the TPM can be used; else any
// security key registered to them (plugged in, or asked for).
func (e *Engine) askProofLocked(as *activeSession) {
	c := e.cer
	u := c.user
	creds, err := e.cfg.Store.Credentials(u.ID)
	if err != nil {
		e.failLocked(kiosk.EventReauthFailed, err, nil)
		return
	}
	var platform *kiosk.Credential
	c.proofCreds = nil
	for i := range creds {
		switch creds[i].Attachment {
		case kiosk.AttachPlatform:
			platform = &creds[i]
		case kiosk.AttachRoaming:
			c.proofCreds = append(c.proofCreds, creds[i].ID)
		}
	}
	platformOK := false
	if ok, _ := e.platformStatus(); ok && platform != nil {
		platformOK = e.pol.MethodAllowed(kiosk.AttachPlatform, u.Groups) == nil
	}
	keysOK := len(c.proofCreds) > 0 && e.cfg.Keys != nil && e.pol.MethodAllowed(kiosk.AttachRoaming, u.Groups) == nil
	signedInKey, plugged := e.keys[as.keyID]
	switch {
	case keysOK && as.keyID != "" && plugged:
		e.proofKeyLocked(signedInKey)
	case platformOK:
		e.proofPINLocked(*platform)
	case keysOK:
		if k, ok := e.keys[e.lastKey]; ok {
			e.proofKeyLocked(k)
			return
		}
		e.waitLocked(e.cfg.Timeouts.Enroll)
		e.stepLocked(kiosk.StateVerifying, kiosk.PromptInsertKey)
	default:
		// Nothing was guessed: audited, not counted.
		e.audit(kiosk.AuditEvent{Type: kiosk.EventReauthFailed, User: u.ID, Outcome: kiosk.KindNoCredentials.String(), Kind: kiosk.KindNoCredentials,
			Detail: map[string]string{"reason": "no credential of theirs can be used on this terminal now"}})
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindNoCredentials, Tries: -1})
	}
}

// proofPINLocked asks for the PIN of the person's platform passkey, after
// the same gates as a PIN sign-in (backoff, a suspended passkey, a TPM in
// lockout).
func (e *Engine) proofPINLocked(cred kiosk.Credential) {
	c := e.cer
	if e.backoffLocked(userSubject(c.user.ID), c.user.ID) || e.pinGateLocked(c.user) || e.pausedGateLocked(c.user) {
		return
	}
	c.platformCred = &cred
	e.askPINLocked(kiosk.StateVerifying) // EnterPIN → platformAssertLocked
}

// proofKeyLocked asks key for user verification, then an assertion.
func (e *Engine) proofKeyLocked(k kiosk.KeyInfo) {
	c := e.cer
	c.key = k
	if e.backoffLocked(userSubject(c.user.ID), c.user.ID) {
		return
	}
	if err := e.pol.AAGUIDAllowed(k.AAGUID); err != nil {
		e.failLocked(kiosk.EventReauthFailed, err, nil)
		return
	}
	e.askUVLocked(kiosk.StateVerifying, func(uv kiosk.UV) { e.proofAssertLocked(uv) })
}

// proofAssertLocked asks the key for an assertion from one of the
// person's own credentials (the allow list), once the session's
// tap-to-sign-out request has let go of it.
func (e *Engine) proofAssertLocked(uv kiosk.UV) {
	c := e.cer
	hash, err := e.newClientDataLocked(fido.TypeGet)
	if err != nil {
		zero(uv.PIN)
		e.failLocked(kiosk.EventReauthFailed, err, nil)
		return
	}
	prompt := touchPrompt(uv)
	e.waitLocked(e.cfg.Timeouts.Device)
	// The touch is asked for only once the key has let go of the
	// session's touch-to-sign-out request: a touch before that would end
	// the withdrawn request, not answer this one.
	keyFree := c.keyFree
	free := keyFree == nil
	if !free {
		select {
		case <-keyFree:
			free = true
		default:
		}
	}
	var ready func(context.Context) error
	if free {
		e.stepLocked(kiosk.StateVerifying, prompt)
	} else {
		e.stepLocked(kiosk.StateVerifying, kiosk.PromptWorking)
		gen := e.gen
		ready = func(ctx context.Context) error {
			select {
			case <-keyFree:
			case <-ctx.Done():
				return kiosk.E(kiosk.KindDeviceBusy, "confirm it is you", ctx.Err())
			}
			e.mu.Lock()
			if e.gen == gen && e.cer != nil {
				e.stepLocked(kiosk.StateVerifying, prompt)
			}
			e.unlock()
			return nil
		}
	}
	req := kiosk.AssertRequest{RPID: e.pol.RPID, ClientDataHash: hash, AllowList: c.proofCreds, UV: uv}
	e.askKeyLocked(c.key.ID, req, ready, kiosk.EventReauthFailed, e.proofAssertLocked, e.verifyProofLocked)
}

// verifyProofLocked takes the assertion from a credential of the
// person's own (the key was asked for no other, but a key is not
// trusted to obey the allow list) and verifies it as a sign-in would.
func (e *Engine) verifyProofLocked(got []kiosk.KeyAssertion) {
	c := e.cer
	for _, a := range got {
		cred, err := e.cfg.Store.Credential(a.CredentialID)
		if err != nil || cred.User != c.user.ID || cred.Attachment != kiosk.AttachRoaming {
			continue
		}
		if err := e.pol.AAGUIDAllowed(cred.AAGUID); err != nil {
			e.failLocked(kiosk.EventReauthFailed, err, cred.ID)
			return
		}
		e.verifyLocked(*c.user, cred, a.CredentialID, a.AuthData, a.Signature, a.UserHandle, func() { e.provedLocked(cred) })
		return
	}
	e.failLocked(kiosk.EventReauthFailed, kiosk.Errorf(kiosk.KindNoCredentials, "confirm it is you", "the key holds no credential registered to you"), nil)
}

// provedLocked: the person proved it is them. Like a sign-in, that
// clears their failures; then the backup's enrollment begins.
func (e *Engine) provedLocked(cred kiosk.Credential) {
	c := e.cer
	e.fails.reset(userSubject(c.user.ID))
	e.clearPINTriesLocked(c.user.ID, "confirmed with "+cred.Attachment.String())
	e.audit(kiosk.AuditEvent{Type: kiosk.EventReauth, User: c.user.ID, Credential: cred.ID, Outcome: "ok",
		Detail: map[string]string{"method": cred.Attachment.String(), "for": "backup"}})
	c.kind = enrolling
	c.platformCred, c.proofCreds, c.key = nil, nil, kiosk.KeyInfo{}
	e.view.Notice = nil
	e.chooseAttachmentLocked()
}

// notConfirmed is what the session screen says when a proof ends without
// success: no backup was added, and the kind (and wait) of what stopped
// it; nil means the person cancelled.
func notConfirmed(n *kiosk.Notice) *kiosk.Notice {
	if n == nil {
		return &kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: kiosk.KindCancelled, Tries: -1}
	}
	return &kiosk.Notice{Code: kiosk.NoticeBackupNotConfirmed, Kind: n.Kind, Tries: n.Tries, Until: n.Until}
}
