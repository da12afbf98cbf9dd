package engine

import (
	"context"
	"unicode/utf8"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// StartEnrollment begins registration with a one-time code from IT. The
// code is checked now and used up only when a credential is stored, so a
// failed attempt (a pulled key, a timeout) does not waste it.
func (e *Engine) StartEnrollment(code string) {
	e.mu.Lock()
	defer e.unlock()
	if !e.is(kiosk.StateLocked) {
		return
	}
	// Guessing codes has a backoff of its own.
	if e.backoffLocked(subjectCodes, "") {
		return
	}
	uid, err := e.cfg.Store.CheckEnrollmentCode(code, e.cfg.Clock.Now())
	if err != nil {
		e.cer = &ceremony{kind: enrolling}
		e.recordFailureLocked(kiosk.EventEnrollFailed, err, nil)
		e.cer = nil
		n := &kiosk.Notice{Code: kiosk.NoticeBadEnrollmentCode, Kind: kiosk.KindOf(err), Tries: -1}
		if n.Kind == kiosk.KindOffline {
			// Not a wrong code: codes are checked by the fleet's
			// directory, which this terminal cannot reach (fleet.go).
			n = notice(err)
		}
		e.lockLocked(n)
		return
	}
	u, err := e.cfg.Store.User(uid)
	if err != nil || u.Disabled {
		e.refuseLocked(kiosk.EventEnrollFailed, uid, &kiosk.Notice{Code: kiosk.NoticeBadEnrollmentCode, Kind: kiosk.KindNotFound, Tries: -1,
			Detail: "the code is for a person who is disabled or removed"})
		return
	}
	c := e.beginLocked(enrolling)
	c.user, c.code = &u, code
	e.chooseAttachmentLocked()
}

// chooseAttachmentLocked offers the methods this person may register, or
// goes straight on when there is only one.
func (e *Engine) chooseAttachmentLocked() {
	c := e.cer
	can := e.registrableLocked(c.user)
	e.view.Who = c.user.DisplayName
	switch len(can) {
	case 0:
		err := kiosk.Errorf(kiosk.KindPolicy, "enroll", "no authenticator you may register is available on this terminal")
		e.audit(kiosk.AuditEvent{Type: kiosk.EventEnrollFailed, User: c.user.ID, Outcome: kiosk.KindPolicy.String(), Kind: kiosk.KindPolicy,
			Detail: map[string]string{"error": err.Error()}})
		e.endCeremonyLocked(notice(err))
	case 1:
		e.chooseLocked(can[0])
	default:
		e.waitLocked(e.cfg.Timeouts.Enroll)
		e.stepLocked(kiosk.StateEnrolling, kiosk.PromptEnrollChoose)
	}
}

// registrableLocked lists the kinds of credential u may register here
// now: a platform passkey when the TPM works, policy allows it and they
// have none yet; a security key when there are keys and policy allows
// them.
func (e *Engine) registrableLocked(u *kiosk.User) []kiosk.Attachment {
	var can []kiosk.Attachment
	if ok, _ := e.platformStatus(); ok && e.pol.MethodAllowed(kiosk.AttachPlatform, u.Groups) == nil {
		if _, has := e.platformCredentialLocked(u.ID); !has {
			can = append(can, kiosk.AttachPlatform)
		}
	}
	if e.cfg.Keys != nil && e.pol.MethodAllowed(kiosk.AttachRoaming, u.Groups) == nil {
		can = append(can, kiosk.AttachRoaming)
	}
	return can
}

// ChooseAttachment answers "this terminal or a security key?".
func (e *Engine) ChooseAttachment(a kiosk.Attachment) {
	e.mu.Lock()
	defer e.unlock()
	if e.cer == nil || e.cer.kind != enrolling || e.cer.step != kiosk.PromptEnrollChoose {
		return
	}
	e.chooseLocked(a)
}

func (e *Engine) chooseLocked(a kiosk.Attachment) {
	c := e.cer
	if err := e.pol.MethodAllowed(a, c.user.Groups); err != nil {
		e.endCeremonyLocked(notice(err))
		return
	}
	c.attachment = a
	switch a {
	case kiosk.AttachPlatform:
		if _, has := e.platformCredentialLocked(c.user.ID); has {
			e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeAlreadyRegistered, Kind: kiosk.KindExcluded, Tries: -1})
			return
		}
		e.view.PINMinLength = e.pol.MinPINLength
		e.waitLocked(e.cfg.Timeouts.Enroll)
		e.stepLocked(kiosk.StateEnrolling, kiosk.PromptNewPIN)
	case kiosk.AttachRoaming:
		for _, k := range e.keys {
			e.enrollKeyLocked(k)
			return
		}
		e.waitLocked(e.cfg.Timeouts.Enroll)
		e.stepLocked(kiosk.StateEnrolling, kiosk.PromptInsertKey)
	}
}

// enrollKeyLocked registers a credential on a plugged-in key.
func (e *Engine) enrollKeyLocked(k kiosk.KeyInfo) {
	c := e.cer
	c.key = k
	if err := e.pol.AAGUIDAllowed(k.AAGUID); err != nil {
		e.failLocked(kiosk.EventEnrollFailed, err, nil)
		return
	}
	e.askUVLocked(kiosk.StateEnrolling, func(uv kiosk.UV) { e.makeCredentialLocked(uv) })
}

func (e *Engine) makeCredentialLocked(uv kiosk.UV) {
	c := e.cer
	hash, err := e.newClientDataLocked(fido.TypeCreate)
	if err != nil {
		zero(uv.PIN)
		e.failLocked(kiosk.EventEnrollFailed, err, nil)
		return
	}
	var exclude [][]byte
	if creds, err := e.cfg.Store.Credentials(c.user.ID); err == nil {
		for _, cr := range creds {
			if cr.Attachment == kiosk.AttachRoaming {
				exclude = append(exclude, cr.ID)
			}
		}
	}
	req := kiosk.MakeCredentialRequest{RPID: e.pol.RPID, RPName: e.pol.RPName, ClientDataHash: hash,
		UserID: []byte(c.user.ID), UserName: c.user.Name, DisplayName: c.user.DisplayName, Exclude: exclude, UV: uv}
	e.waitLocked(e.cfg.Timeouts.Device)
	e.stepLocked(kiosk.StateEnrolling, touchPrompt(uv))
	key, keyFree := c.key.ID, c.keyFree
	e.deviceLocked(e.cfg.Timeouts.Device, func(ctx context.Context) any {
		defer zero(uv.PIN)
		if keyFree != nil {
			select {
			case <-keyFree:
			case <-ctx.Done():
				return kiosk.E(kiosk.KindDeviceBusy, "enroll", ctx.Err())
			}
		}
		att, err := e.cfg.Keys.MakeCredential(ctx, key, req)
		if err != nil {
			return err
		}
		return att
	}, func(res any) {
		if err, ok := res.(error); ok {
			if kiosk.KindOf(err) == kiosk.KindExcluded {
				e.audit(kiosk.AuditEvent{Type: kiosk.EventEnrollFailed, User: c.userID(), Outcome: kiosk.KindExcluded.String(), Kind: kiosk.KindExcluded})
				e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeAlreadyRegistered, Kind: kiosk.KindExcluded, Tries: -1})
				return
			}
			e.uvErrorLocked(kiosk.EventEnrollFailed, err, func(uv kiosk.UV) { e.makeCredentialLocked(uv) })
			return
		}
		e.finishEnrollLocked(res.(kiosk.KeyAttestation).AttestationObject, nil, nil)
	})
}

// platformEnrollLocked creates the person's TPM passkey with their new PIN.
func (e *Engine) platformEnrollLocked(pin []byte) {
	c := e.cer
	if n := utf8.RuneCount(pin); n < e.pol.MinPINLength {
		zero(pin)
		e.view.Notice = &kiosk.Notice{Code: kiosk.NoticePINTooShort, Kind: kiosk.KindPINPolicy, Tries: -1}
		e.waitLocked(e.cfg.Timeouts.Enroll)
		e.stepLocked(kiosk.StateEnrolling, kiosk.PromptNewPIN)
		return
	}
	hash, err := e.newClientDataLocked(fido.TypeCreate)
	if err != nil {
		zero(pin)
		e.failLocked(kiosk.EventEnrollFailed, err, nil)
		return
	}
	e.waitLocked(e.cfg.Timeouts.Device)
	e.stepLocked(kiosk.StateEnrolling, kiosk.PromptWorking)
	uid := []byte(c.user.ID)
	e.deviceLocked(e.cfg.Timeouts.Device, func(ctx context.Context) any {
		defer zero(pin)
		enr, err := e.cfg.Platform.Enroll(ctx, e.pol.RPID, uid, hash, pin)
		if err != nil {
			return err
		}
		return enr
	}, func(res any) {
		if err, ok := res.(error); ok {
			e.failLocked(kiosk.EventEnrollFailed, err, nil)
			return
		}
		enr := res.(kiosk.PlatformEnrollment)
		e.finishEnrollLocked(enr.AttestationObject, enr.TPMPublic, enr.TPMPrivate)
	})
}

// finishEnrollLocked verifies the new credential (WebAuthn §7.1 through
// fido, then the AAGUID and attestation policy) and stores it.
func (e *Engine) finishEnrollLocked(attObj, tpmPub, tpmPriv []byte) {
	c := e.cer
	reg, ok := e.verifyEnrollmentLocked(attObj)
	if !ok {
		return
	}
	cred, ok := e.storeEnrollmentLocked(reg, tpmPub, tpmPriv)
	if !ok {
		return
	}
	e.audit(kiosk.AuditEvent{Type: kiosk.EventEnrolled, User: c.user.ID, Credential: reg.CredentialID, Outcome: "ok",
		Detail: map[string]string{"method": c.attachment.String(), "aaguid": fido.AAGUID(reg.AAGUID).String(),
			"attestation": string(reg.Type), "trusted": boolString(reg.Trusted), "backup": boolString(c.backup)}})
	code := kiosk.NoticeEnrolled
	if creds, err := e.cfg.Store.Credentials(c.user.ID); err == nil && len(creds) < e.pol.MinCredentials {
		code = kiosk.NoticeBackupSuggested
	}
	e.view.Notice = &kiosk.Notice{Code: code, Tries: -1, Detail: cred.Label}
	e.waitLocked(e.cfg.Timeouts.Notice)
	e.stepLocked(kiosk.StateEnrolling, kiosk.PromptEnrollDone)
	// Done shows until its deadline or Cancel, then the lock screen (or
	// the session, for a backup).
	c.code = ""
}

// verifyEnrollmentLocked redeems the ceremony's challenge and verifies
// the attestation object under policy (WebAuthn §7.1): a credential
// already registered and a refused key model fail the ceremony. It
// returns false when the ceremony has ended.
func (e *Engine) verifyEnrollmentLocked(attObj []byte) (*fido.Registration, bool) {
	c := e.cer
	if err := e.challenges.Redeem(c.challenge); err != nil {
		e.failLocked(kiosk.EventEnrollFailed, err, nil)
		return nil, false
	}
	roaming := c.attachment == kiosk.AttachRoaming
	reg, err := fido.VerifyRegistration(fido.RegistrationInput{
		RPID: e.pol.RPID, Origin: e.pol.Origin, Challenge: c.challenge,
		ClientDataJSON: c.clientData, AttestationObject: attObj,
		RequireUV: e.pol.RequireUV, TrustAnchors: e.pol.TrustAnchorPool(),
		RequireTrustedAttestation: roaming && e.pol.RequireAttestation,
		Now:                       e.cfg.Clock.Now(),
	})
	if err != nil {
		e.failLocked(kiosk.EventEnrollFailed, err, nil)
		return nil, false
	}
	if e.registeredBeforeLocked(reg.CredentialID) {
		return nil, false
	}
	// The allow and block lists name security-key models; the platform
	// authenticator is this appliance's own.
	if roaming {
		if err := e.pol.AAGUIDAllowed(reg.AAGUID); err != nil {
			e.failLocked(kiosk.EventEnrollFailed, err, reg.CredentialID)
			return nil, false
		}
	}
	return reg, true
}

// registeredBeforeLocked ends the ceremony when the credential ID is
// registered already (WebAuthn §7.1, L3 step 26). The key was asked to
// exclude the person's own credentials, but a key may ignore the list
// and hand back one it made before: checked here, where the decision is
// made, before the enrollment code is spent.
func (e *Engine) registeredBeforeLocked(credID []byte) bool {
	c := e.cer
	prev, err := e.cfg.Store.Credential(credID)
	switch {
	case err == nil && prev.User == c.user.ID:
		e.audit(kiosk.AuditEvent{Type: kiosk.EventEnrollFailed, User: c.userID(), Credential: credID, Outcome: kiosk.KindExcluded.String(), Kind: kiosk.KindExcluded,
			Detail: map[string]string{"why": "the key returned a credential already registered for this person"}})
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeAlreadyRegistered, Kind: kiosk.KindExcluded, Tries: -1})
		return true
	case err == nil:
		e.failLocked(kiosk.EventEnrollFailed, kiosk.Errorf(kiosk.KindConflict, "enroll", "the key returned a credential registered for someone else"), credID)
		return true
	case kiosk.KindOf(err) != kiosk.KindNotFound:
		e.failLocked(kiosk.EventEnrollFailed, err, credID)
		return true
	}
	return false
}

// storeEnrollmentLocked spends the enrollment code (not for a backup) and
// stores the new credential; it returns false when the ceremony has
// ended.
func (e *Engine) storeEnrollmentLocked(reg *fido.Registration, tpmPub, tpmPriv []byte) (kiosk.Credential, bool) {
	c := e.cer
	now := e.cfg.Clock.Now()
	if !c.backup {
		if _, err := e.cfg.Store.RedeemEnrollmentCode(c.code, now); err != nil {
			e.failLocked(kiosk.EventEnrollFailed, err, reg.CredentialID)
			return kiosk.Credential{}, false
		}
	}
	label := "Security key"
	if c.attachment != kiosk.AttachRoaming {
		label = "This terminal"
	}
	cred := kiosk.Credential{ID: reg.CredentialID, User: c.user.ID, Attachment: c.attachment, PublicKey: reg.PublicKey,
		Counter: reg.Counter, AAGUID: reg.AAGUID, BackupEligible: reg.Flags.Has(fido.FlagBE), Label: label, Format: reg.Format,
		Created: now, TPMPublic: tpmPub, TPMPrivate: tpmPriv}
	if err := e.cfg.Store.AddCredential(cred); err != nil {
		e.failLocked(kiosk.EventEnrollFailed, err, reg.CredentialID)
		return kiosk.Credential{}, false
	}
	return cred, true
}

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
