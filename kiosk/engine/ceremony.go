package engine

import (
	"context"
	"errors"
	"time"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

type ceremonyKind uint8

const (
	signInRoaming ceremonyKind = iota + 1
	signInPlatform
	enrolling
	// proving: the person in a session proves it is still them before a
	// backup is registered (reauth.go); it becomes enrolling once they
	// have.
	proving
)

// ceremony is one sign-in or enrollment under way.
type ceremony struct {
	kind ceremonyKind
	// state and step are where the ceremony is: the engine's state and
	// the prompt it waits at (stepLocked).
	state  kiosk.State
	step   kiosk.Prompt
	user   *kiosk.User
	key    kiosk.KeyInfo // the key in use, for roaming ceremonies
	cancel context.CancelFunc

	challenge  fido.Challenge
	clientData []byte

	// accounts wait in the account picker.
	accounts []account
	// platformCred is the person's platform credential.
	platformCred *kiosk.Credential

	// Enrollment.
	code       string // the enrollment code, used up on success
	attachment kiosk.Attachment
	backup     bool // adding a backup from inside a session
	// keyFree is closed once the session's tap-to-sign-out request has
	// let go of the key (nil outside a backup).
	keyFree <-chan struct{}
	// proofCreds are the person's security-key credentials, the allow
	// list of a proof on a key.
	proofCreds [][]byte
}

// failed is the audit event for a failure of this ceremony.
func (c *ceremony) failed() kiosk.Event {
	switch c.kind {
	case enrolling:
		return kiosk.EventEnrollFailed
	case proving:
		return kiosk.EventReauthFailed
	}
	return kiosk.EventSignInFailed
}

func (c *ceremony) userID() kiosk.UserID {
	if c == nil || c.user == nil {
		return ""
	}
	return c.user.ID
}

// Subjects that failures are counted against. Each has its own backoff:
// a person's wrong PINs never hold up another person, and guessing
// enrollment codes never holds up anyone's sign-in.
const subjectCodes = "enrollment codes"

func userSubject(id kiosk.UserID) string { return "user " + string(id) }

// subject is who a failure counts against: the person once known, or
// enrollment-code guessing. A wrong PIN on a security key that has not
// said who this is counts against no subject, only the terminal's spike
// count: the key's own rules limit guessing (CTAP 2.1: three wrong in a
// row need a re-plug, eight block the key), and keys of one model cannot
// be told apart across a re-plug, so a kiosk backoff per key would hold
// up the next person's identical key.
func (c *ceremony) subject() string {
	switch {
	case c == nil:
		return subjectCodes
	case c.user != nil:
		return userSubject(c.user.ID)
	case c.kind == signInRoaming:
		return ""
	}
	return subjectCodes
}

// beginLocked starts a new ceremony, abandoning any other.
func (e *Engine) beginLocked(kind ceremonyKind) *ceremony {
	e.abandonLocked()
	e.gen++
	e.cer = &ceremony{kind: kind}
	if e.clear != nil {
		e.clear.Stop()
	}
	e.view.Notice = nil
	return e.cer
}

// abandonLocked cancels the current ceremony's device operation.
func (e *Engine) abandonLocked() {
	if e.cer != nil && e.cer.cancel != nil {
		e.cer.cancel()
	}
	e.cer = nil
}

// endCeremonyLocked abandons the ceremony and returns to the lock screen,
// or to the session if the ceremony was a backup enrollment.
func (e *Engine) endCeremonyLocked(n *kiosk.Notice) {
	backup := e.cer != nil && e.cer.backup
	if e.cer != nil && e.cer.kind == proving {
		n = notConfirmed(n)
	}
	e.abandonLocked()
	e.gen++
	if backup && e.sess != nil {
		e.stopWaitLocked()
		e.view.Notice = n
		e.showSessionLocked()
		return
	}
	e.lockLocked(n)
}

// newClientDataLocked issues a challenge and builds the client data for
// the ceremony (the kiosk is its own WebAuthn client).
func (e *Engine) newClientDataLocked(typ string) ([32]byte, error) {
	ch, err := e.challenges.Issue()
	if err != nil {
		return [32]byte{}, err
	}
	e.cer.challenge = ch
	e.cer.clientData = fido.ClientDataJSON(typ, ch, e.pol.Origin)
	return fido.ClientDataHash(e.cer.clientData), nil
}

// notice turns an error into what the person is told.
func notice(err error) *kiosk.Notice {
	n := &kiosk.Notice{Kind: kiosk.KindOf(err), Tries: kiosk.TriesLeft(err), Code: kiosk.NoticeKeyProblem}
	if c, ok := noticeOfKind[n.Kind]; ok {
		n.Code = c
	}
	var ke *kiosk.Error
	if n.Code == kiosk.NoticeNotAllowed && errors.As(err, &ke) && ke.Err != nil {
		// A refusal by policy or by an offline directory says why.
		n.Detail = ke.Err.Error()
	}
	return n
}

// noticeOfKind is the notice for each kind of error; any other kind is a
// problem with the key (NoticeKeyProblem).
var noticeOfKind = map[kiosk.Kind]kiosk.NoticeCode{
	kiosk.KindPINInvalid:           kiosk.NoticeWrongPIN,
	kiosk.KindPINAuthBlocked:       kiosk.NoticeReplugKey,
	kiosk.KindPINBlocked:           kiosk.NoticeKeyBlocked,
	kiosk.KindUVInvalid:            kiosk.NoticeFingerprintFailed,
	kiosk.KindUVBlocked:            kiosk.NoticeFingerprintLocked,
	kiosk.KindTPMLockout:           kiosk.NoticePlatformLocked,
	kiosk.KindTPMCleared:           kiosk.NoticeTPMCleared,
	kiosk.KindNoCredentials:        kiosk.NoticeUnknownKey,
	kiosk.KindNotFound:             kiosk.NoticeUnknownKey,
	kiosk.KindPolicy:               kiosk.NoticeNotAllowed,
	kiosk.KindOffline:              kiosk.NoticeNotAllowed,
	kiosk.KindTimeout:              kiosk.NoticeTimedOut,
	kiosk.KindNotAllowed:           kiosk.NoticeTimedOut,
	kiosk.KindDeviceGone:           kiosk.NoticeKeyRemoved,
	kiosk.KindBadSignature:         kiosk.NoticeVerificationFailed,
	kiosk.KindWrongRP:              kiosk.NoticeVerificationFailed,
	kiosk.KindNoUserPresence:       kiosk.NoticeVerificationFailed,
	kiosk.KindUVMissing:            kiosk.NoticeVerificationFailed,
	kiosk.KindChallenge:            kiosk.NoticeVerificationFailed,
	kiosk.KindCounterRegression:    kiosk.NoticeVerificationFailed,
	kiosk.KindClientData:           kiosk.NoticeVerificationFailed,
	kiosk.KindAlgorithm:            kiosk.NoticeVerificationFailed,
	kiosk.KindUntrustedAttestation: kiosk.NoticeVerificationFailed,
	kiosk.KindBadAttestation:       kiosk.NoticeVerificationFailed,
}

// failLocked audits a failed sign-in or enrollment, counts it towards
// backoff, and ends the ceremony with the matching notice.
func (e *Engine) failLocked(failed kiosk.Event, err error, credID []byte) {
	n := notice(err)
	// A TPM lockout says how long it lasts (tpm.LockoutError).
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		n.Until = e.cfg.Clock.Now().Add(ra.RetryAfter())
	}
	e.recordFailureLocked(failed, err, credID)
	if until := e.fails.blockedUntil(e.cer.subject(), e.cfg.Clock.Now()); !until.IsZero() && n.Code != kiosk.NoticeReplugKey {
		n = &kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Kind: kiosk.KindPolicy, Tries: -1, Until: until}
	}
	e.endCeremonyLocked(n)
}

// refuseLocked audits a sign-in or enrollment refused before any
// authenticator was asked (no such person here, a method switched off, a
// disabled account) and shows the lock screen with n. It does not count
// towards backoff: nothing was guessed. Typed names are not written to
// the log; a PIN typed into the name field must never end up there.
func (e *Engine) refuseLocked(failed kiosk.Event, user kiosk.UserID, n *kiosk.Notice) {
	detail := map[string]string{"refused": "before asking an authenticator"}
	if n.Detail != "" {
		detail["reason"] = n.Detail
	}
	e.audit(kiosk.AuditEvent{Type: failed, User: user, Outcome: n.Kind.String(), Kind: n.Kind, Detail: detail})
	e.lockLocked(n)
}

// recordFailureLocked audits a failure and counts it. Only failures that
// say something about the person at the terminal count towards backoff: a
// pulled key or a timeout does not.
func (e *Engine) recordFailureLocked(failed kiosk.Event, err error, credID []byte) {
	kind := kiosk.KindOf(err)
	now := e.cfg.Clock.Now()
	detail := map[string]string{"error": err.Error()}
	counted := true
	switch kind {
	case kiosk.KindDeviceGone, kiosk.KindTimeout, kiosk.KindCancelled, kiosk.KindDeviceBusy, kiosk.KindOffline:
		counted = false
	}
	if s := e.cer.subject(); counted && s != "" {
		// Marks the failure for kiosk.FailureHistory after a restart.
		detail["subject"] = s
	}
	e.audit(kiosk.AuditEvent{Type: failed, User: e.cer.userID(), Credential: credID,
		Outcome: kind.String(), Kind: kind, Detail: detail})
	if !counted {
		return
	}
	spike := e.fails.add(e.cer.subject(), now)
	if kind == kiosk.KindCounterRegression {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventPossibleClone, User: e.cer.userID(), Credential: credID, Outcome: kind.String(), Kind: kind})
	}
	if spike {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventFailureSpike, Outcome: "failures", Detail: map[string]string{
			"window": e.pol.Lockout.Window.String()}})
	}
	if until := e.fails.blockedUntil(e.cer.subject(), now); !until.IsZero() {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventLockout, User: e.cer.userID(), Outcome: "backoff",
			Detail: map[string]string{"until": until.Format(time.RFC3339), "subject": e.cer.subject()}})
	}
}

// backoffLocked refuses a subject in backoff (user: the person it is, when
// known): the refusal is audited and any ceremony under way ends, so the
// lock screen takes input again.
func (e *Engine) backoffLocked(subject string, user kiosk.UserID) bool {
	until := e.fails.blockedUntil(subject, e.cfg.Clock.Now())
	if until.IsZero() {
		return false
	}
	e.audit(kiosk.AuditEvent{Type: kiosk.EventRefused, User: user, Outcome: "backoff", Kind: kiosk.KindPolicy,
		Detail: map[string]string{"until": until.Format(time.RFC3339), "subject": subject}})
	e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Kind: kiosk.KindPolicy, Tries: -1, Until: until})
	return true
}

// admitLocked applies the policy that does not depend on the
// authenticator: the person is enabled, the method is allowed for their
// groups, and it is within their hours.
func (e *Engine) admitLocked(u *kiosk.User, a kiosk.Attachment) error {
	if u.Disabled {
		return kiosk.Errorf(kiosk.KindPolicy, "policy", "your account is disabled")
	}
	if err := e.pol.MethodAllowed(a, u.Groups); err != nil {
		return err
	}
	if why := e.outOfHoursLocked(u.Groups, e.cfg.Clock.Now()); why != "" {
		return kiosk.Errorf(kiosk.KindPolicy, "policy", "%s", why)
	}
	return nil
}
