package engine

import (
	"context"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// keyEvent handles a security key plugged in or pulled out.
func (e *Engine) keyEvent(ev kiosk.KeyEvent) {
	e.mu.Lock()
	defer e.unlock()
	switch ev.Type {
	case kiosk.KeyPlugged:
		e.keys[ev.Key.ID] = ev.Key
		e.lastKey = ev.Key.ID
		e.cfg.Log.Info("key plugged", "key", ev.Key.ID, "product", ev.Key.Product)
		switch {
		case e.is(kiosk.StateLocked):
			e.startRoamingLocked(ev.Key)
		case e.cer != nil && e.cer.kind == enrolling && e.cer.step == kiosk.PromptInsertKey:
			e.enrollKeyLocked(ev.Key)
		case e.cer != nil && e.cer.kind == proving && e.cer.step == kiosk.PromptInsertKey:
			e.proofKeyLocked(ev.Key)
		default:
			e.publishLocked()
		}
	case kiosk.KeyRemoved:
		delete(e.keys, ev.Key.ID)
		e.cfg.Log.Info("key removed", "key", ev.Key.ID)
		ended := false
		if e.cer != nil && e.cer.key.ID == ev.Key.ID {
			e.audit(kiosk.AuditEvent{Type: kiosk.EventKeyRemoved, User: e.cer.userID(), Outcome: "abandoned", Kind: kiosk.KindDeviceGone})
			e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeKeyRemoved, Kind: kiosk.KindDeviceGone, Tries: -1})
			ended = true
		}
		// The key the session signed in with ends it when pulled, even
		// in the middle of a backup proved with it.
		if s := e.sess; s != nil && s.keyID == ev.Key.ID && e.pol.KeyRemovalEndsSession {
			e.endSessionLocked(kiosk.EndKeyRemoved)
			return
		}
		if !ended {
			e.publishLocked()
		}
	}
}

// UseKey signs in with a security key that is already plugged in: left in
// after the last session or a failed attempt, or plugged in while another
// screen showed. The key plugged in last is used.
func (e *Engine) UseKey() {
	e.mu.Lock()
	defer e.unlock()
	if !e.is(kiosk.StateLocked) || len(e.keys) == 0 {
		return
	}
	key, ok := e.keys[e.lastKey]
	if !ok {
		for _, k := range e.keys {
			key = k
			break
		}
	}
	e.startRoamingLocked(key)
}

// startRoamingLocked begins "tap and go": the key itself says who this is.
func (e *Engine) startRoamingLocked(key kiosk.KeyInfo) {
	// Per-group rules wait until the key has said who this is.
	if !e.pol.Roaming.Enabled {
		e.refuseLocked(kiosk.EventSignInFailed, "", notice(e.pol.MethodAllowed(kiosk.AttachRoaming, nil)))
		return
	}
	c := e.beginLocked(signInRoaming)
	c.key = key
	e.askUVLocked(kiosk.StateVerifying, func(uv kiosk.UV) { e.assertLocked(uv) })
}

// askUVLocked asks for user verification on the ceremony's key: the
// fingerprint when the key has one, the PIN otherwise. run is called with
// the fingerprint choice at once, or later from EnterPIN.
func (e *Engine) askUVLocked(state kiosk.State, run func(kiosk.UV)) {
	c := e.cer
	switch {
	case c.key.HasFingerprint:
		run(kiosk.UV{Fingerprint: true})
	case c.key.HasPIN:
		e.askPINLocked(state)
	default:
		e.audit(kiosk.AuditEvent{Type: kiosk.EventKeyWithoutPIN, User: c.userID(), Outcome: kiosk.KindPINNotSet.String(), Kind: kiosk.KindPINNotSet})
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeKeyNeedsPIN, Kind: kiosk.KindPINNotSet, Tries: -1})
	}
}

func (e *Engine) askPINLocked(state kiosk.State) {
	e.view.PINMinLength = 4 // CTAP 2.1 §6.5.1: a key PIN has at least 4 code points
	if e.cer.kind == signInPlatform || (e.cer.kind == enrolling && e.cer.attachment == kiosk.AttachPlatform) ||
		(e.cer.kind == proving && e.cer.platformCred != nil) {
		e.view.PINMinLength = e.pol.MinPINLength
	}
	e.waitLocked(e.cfg.Timeouts.PIN)
	e.stepLocked(state, kiosk.PromptPIN)
}

// assertLocked asks the key for every account it holds for our RP.
func (e *Engine) assertLocked(uv kiosk.UV) {
	c := e.cer
	hash, err := e.newClientDataLocked(fido.TypeGet)
	if err != nil {
		e.failLocked(kiosk.EventSignInFailed, err, nil)
		return
	}
	e.waitLocked(e.cfg.Timeouts.Device)
	e.stepLocked(kiosk.StateVerifying, touchPrompt(uv))
	req := kiosk.AssertRequest{RPID: e.pol.RPID, ClientDataHash: hash, UV: uv}
	e.askKeyLocked(c.key.ID, req, nil, kiosk.EventSignInFailed, e.assertLocked, e.pickAccountLocked)
}

// touchPrompt is what a key operation asks of the person: a finger on
// the sensor when the key verifies them by fingerprint, else a touch.
func touchPrompt(uv kiosk.UV) kiosk.Prompt {
	if uv.Fingerprint {
		return kiosk.PromptFingerprint
	}
	return kiosk.PromptTouchKey
}

// askKeyLocked asks the key for assertions over req on the device
// goroutine, once ready (nil: at once) lets it, and hands them to done;
// a failure goes to uvErrorLocked as failed, with retry for another try.
// It wipes the PIN in req when the key has it.
func (e *Engine) askKeyLocked(key string, req kiosk.AssertRequest, ready func(context.Context) error,
	failed kiosk.Event, retry func(kiosk.UV), done func([]kiosk.KeyAssertion)) {
	e.deviceLocked(e.cfg.Timeouts.Device, func(ctx context.Context) any {
		defer zero(req.UV.PIN)
		if ready != nil {
			if err := ready(ctx); err != nil {
				return err
			}
		}
		as, err := e.cfg.Keys.Assert(ctx, key, req)
		if err != nil {
			return err
		}
		return as
	}, func(res any) {
		if err, ok := res.(error); ok {
			e.uvErrorLocked(failed, err, retry)
			return
		}
		done(res.([]kiosk.KeyAssertion))
	})
}

// uvErrorLocked handles an error from a key operation that involved user
// verification: a wrong PIN or fingerprint asks again with the tries left,
// a locked fingerprint falls back to the PIN, anything else ends the
// ceremony.
func (e *Engine) uvErrorLocked(failed kiosk.Event, err error, retry func(kiosk.UV)) {
	c := e.cer
	switch kiosk.KindOf(err) {
	case kiosk.KindPINInvalid:
		e.recordFailureLocked(failed, err, nil)
		if until := e.fails.blockedUntil(c.subject(), e.cfg.Clock.Now()); !until.IsZero() {
			e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Kind: kiosk.KindPolicy, Tries: -1, Until: until})
			return
		}
		e.view.Notice = notice(err)
		e.askPINLocked(e.cer.state)
		return
	case kiosk.KindUVInvalid:
		e.recordFailureLocked(failed, err, nil)
		e.view.Notice = notice(err)
		retry(kiosk.UV{Fingerprint: true})
		return
	case kiosk.KindUVBlocked:
		e.audit(kiosk.AuditEvent{Type: kiosk.EventFingerprintLocked, User: c.userID(), Outcome: kiosk.KindUVBlocked.String(), Kind: kiosk.KindUVBlocked})
		c.key.HasFingerprint = false
		if c.key.HasPIN {
			e.view.Notice = notice(err)
			e.askPINLocked(e.cer.state)
			return
		}
	}
	e.failLocked(failed, err, nil)
}

// account is an assertion from a key whose credential the appliance
// knows, with its records of the credential and of the person: looked up
// once, here, and carried into the verification.
type account struct {
	a    kiosk.KeyAssertion
	cred kiosk.Credential
	user kiosk.User
}

// pickAccountLocked shows the picker when the key holds several of our
// accounts, or goes straight on with the only one. Names on the picker
// come from the appliance's records: what a key says of its accounts is
// not signed.
func (e *Engine) pickAccountLocked(as []kiosk.KeyAssertion) {
	c := e.cer
	var ours []account
	unknown := 0
	for _, a := range as {
		cred, err := e.cfg.Store.Credential(a.CredentialID)
		if err != nil {
			unknown++
			continue
		}
		u, err := e.cfg.Store.User(cred.User)
		if err != nil {
			continue
		}
		ours = append(ours, account{a, cred, u})
	}
	switch len(ours) {
	case 0:
		e.failLocked(kiosk.EventSignInFailed, kiosk.Errorf(kiosk.KindNoCredentials, "sign-in", "the key holds no credential registered here"), nil)
	case 1:
		e.verifyRoamingLocked(ours[0])
	default:
		c.accounts = ours
		e.view.Accounts, e.view.UnknownAccounts = nil, unknown
		for i, k := range ours {
			e.view.Accounts = append(e.view.Accounts, kiosk.Account{Index: i, DisplayName: k.user.DisplayName, Name: k.user.Name})
		}
		e.waitLocked(e.cfg.Timeouts.Picker)
		e.stepLocked(kiosk.StateIdentifying, kiosk.PromptChooseAccount)
	}
}

// ChooseAccount answers the account picker.
func (e *Engine) ChooseAccount(i int) {
	e.mu.Lock()
	defer e.unlock()
	c := e.cer
	if c == nil || c.step != kiosk.PromptChooseAccount || i < 0 || i >= len(c.accounts) {
		return
	}
	acc := c.accounts[i]
	c.accounts, e.view.Accounts, e.view.UnknownAccounts = nil, nil, 0
	e.verifyRoamingLocked(acc)
}

// verifyRoamingLocked checks an assertion from a key and signs the person
// in.
func (e *Engine) verifyRoamingLocked(acc account) {
	c := e.cer
	cred := acc.cred
	if cred.Attachment != kiosk.AttachRoaming {
		e.failLocked(kiosk.EventSignInFailed, kiosk.Errorf(kiosk.KindPolicy, "sign-in", "a platform credential came from a security key"), cred.ID)
		return
	}
	if e.keysRefused != "" {
		e.failLocked(kiosk.EventSignInFailed, kiosk.Errorf(kiosk.KindPolicy, "sign-in", "%s", e.keysRefused), cred.ID)
		return
	}
	// The key's model must still be allowed, as registered and as it says
	// now; checked first, so that a refused model never stores a sign-in.
	// The refusal counts against the person the credential belongs to.
	c.user = &acc.user
	if err := e.pol.AAGUIDAllowed(cred.AAGUID); err != nil {
		e.failLocked(kiosk.EventSignInFailed, err, cred.ID)
		return
	}
	if err := e.pol.AAGUIDAllowed(c.key.AAGUID); err != nil {
		e.failLocked(kiosk.EventSignInFailed, err, cred.ID)
		return
	}
	a := acc.a
	e.verifyLocked(acc.user, cred, a.CredentialID, a.AuthData, a.Signature, a.UserHandle, func() {
		e.signedInLocked(cred, c.key.ID)
	})
}

// verifyLocked runs the checks every sign-in shares: the person (user,
// the owner of cred), policy, the challenge (single use), and fido's §7.2
// verification, with credID the credential the authenticator said it
// used (§7.2 step 5: it must be the stored one). It is the one place an
// assertion is verified. then runs when they pass.
func (e *Engine) verifyLocked(user kiosk.User, cred kiosk.Credential, credID, authData, sig, userHandle []byte, then func()) {
	c := e.cer
	c.user = &user
	e.view.Who = user.DisplayName
	if e.backoffLocked(userSubject(user.ID), user.ID) {
		return
	}
	if err := e.admitLocked(&user, cred.Attachment); err != nil {
		e.failLocked(c.failed(), err, cred.ID)
		return
	}
	if err := e.challenges.Redeem(c.challenge); err != nil {
		e.failLocked(c.failed(), err, cred.ID)
		return
	}
	res, err := fido.VerifyAssertion(fido.AssertionInput{
		RPID: e.pol.RPID, Origin: e.pol.Origin, Challenge: c.challenge,
		Credential: fido.StoredCredential{ID: cred.ID, PublicKey: cred.PublicKey, Counter: cred.Counter,
			UserHandle: []byte(cred.User), BackupEligible: cred.BackupEligible},
		CredentialID: credID, AuthData: authData, ClientDataJSON: c.clientData, Signature: sig,
		UserHandle: userHandle, RequireUV: e.pol.RequireUV,
	})
	if err != nil {
		e.failLocked(c.failed(), err, cred.ID)
		return
	}
	if err := e.cfg.Store.RecordSignIn(cred.ID, res.Counter, e.cfg.Clock.Now()); err != nil {
		e.failLocked(c.failed(), err, cred.ID)
		return
	}
	then()
}
