package engine

import (
	"errors"
	"strconv"
	"time"

	"passkiosk/kiosk"
)

// Wrong TPM PINs are counted per person, in a row, by the appliance (see
// policy.Lockout). The TPM's dictionary-attack counter is one for the whole
// chip and a right PIN does not lower it; counted alone, two people's typos
// would pause PIN sign-in for everyone. The per-person count backs a person
// off from Lockout.MaxFailures wrong PINs in a row and suspends their
// passkey here at Lockout.SuspendAfter, both far below the chip's limit,
// and it is what the PIN pad shows as "tries left". It lives in the store
// when the store keeps it (kiosk.PINTries), so a restart lifts nothing.

type pinCount struct {
	n    int
	last time.Time
}

// pinTriesLocked is the person's wrong TPM PINs in a row.
func (e *Engine) pinTriesLocked(u kiosk.UserID) pinCount {
	if s, ok := e.cfg.Store.(kiosk.PINTries); ok {
		n, last, err := s.PlatformPINTries(u)
		if err == nil {
			return pinCount{n, last}
		}
		e.cfg.Log.Error("reading PIN tries", "err", err)
	}
	return e.pinMem[u]
}

// addPINFailureLocked counts one more wrong TPM PIN of the person. When
// the store cannot count it, memory does, so a failing disk never lifts
// the limit.
func (e *Engine) addPINFailureLocked(u kiosk.UserID) pinCount {
	now := e.cfg.Clock.Now()
	mem := e.pinMem[u]
	mem.n++
	mem.last = now
	e.pinMem[u] = mem
	if s, ok := e.cfg.Store.(kiosk.PINTries); ok {
		n, err := s.AddPlatformPINFailure(u, now)
		if err == nil {
			return pinCount{max(n, mem.n), now}
		}
		e.cfg.Log.Error("counting a wrong PIN", "err", err)
	}
	return mem
}

// clearPINTriesLocked forgets the person's wrong TPM PINs after a
// successful sign-in with any of their credentials; how is audited when a
// suspension ends with it.
func (e *Engine) clearPINTriesLocked(u kiosk.UserID, how string) {
	was := e.pinTriesLocked(u)
	delete(e.pinMem, u)
	if was.n == 0 {
		return // nothing to forget: no write on an ordinary sign-in
	}
	if s, ok := e.cfg.Store.(kiosk.PINTries); ok {
		if _, err := s.ClearPlatformPINTries(u); err != nil {
			e.cfg.Log.Error("clearing PIN tries", "err", err)
		}
	}
	if was.n >= e.pol.Lockout.SuspendAfter() {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventPlatformUnsuspended, User: u, Outcome: "ok",
			Detail: map[string]string{"by": how, "wrong_pins": strconv.Itoa(was.n)}})
	}
}

// pinGateLocked refuses a platform sign-in for a person whose passkey here
// is suspended or who is backing off after wrong PINs in a row, before the
// TPM sees a PIN. It reports whether it refused.
func (e *Engine) pinGateLocked(u *kiosk.User) bool {
	c := e.pinTriesLocked(u.ID)
	if c.n >= e.pol.Lockout.SuspendAfter() {
		n := e.suspendedNoticeLocked(u)
		e.audit(kiosk.AuditEvent{Type: kiosk.EventRefused, User: u.ID, Outcome: "platform-suspended", Kind: kiosk.KindPolicy,
			Detail: map[string]string{"wrong_pins": strconv.Itoa(c.n)}})
		e.endCeremonyLocked(n)
		return true
	}
	if until := e.pol.Lockout.PINBackoff(c.n, c.last); until.After(e.cfg.Clock.Now()) {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventRefused, User: u.ID, Outcome: "backoff", Kind: kiosk.KindPolicy,
			Detail: map[string]string{"until": until.Format(time.RFC3339), "wrong_pins": strconv.Itoa(c.n)}})
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Kind: kiosk.KindPolicy, Tries: -1, Until: until})
		return true
	}
	return false
}

func (e *Engine) suspendedNoticeLocked(u *kiosk.User) *kiosk.Notice {
	return &kiosk.Notice{Code: kiosk.NoticePlatformSuspended, Kind: kiosk.KindPolicy, Tries: 0,
		OfferKey: e.offerKeyLocked(u)}
}

// offerKeyLocked: policy lets this person sign in with a security key.
func (e *Engine) offerKeyLocked(u *kiosk.User) bool {
	if e.cfg.Keys == nil {
		return false
	}
	var groups []string
	if u != nil {
		groups = u.Groups
	}
	return e.pol.MethodAllowed(kiosk.AttachRoaming, groups) == nil
}

// platformWrongPINLocked handles a PIN the TPM refused: it counts it
// against the person, and either asks again showing the person's own tries
// left (never the chip's), backs them off, or suspends their passkey here.
func (e *Engine) platformWrongPINLocked(err error, credID []byte) {
	c := e.cer
	u := c.user
	count := e.addPINFailureLocked(u.ID)
	e.recordFailureLocked(c.failed(), err, credID)
	left := e.pol.Lockout.SuspendAfter() - count.n
	if left <= 0 {
		e.audit(kiosk.AuditEvent{Type: kiosk.EventLockout, User: u.ID, Credential: credID, Outcome: "platform-suspended",
			Kind: kiosk.KindPolicy, Detail: map[string]string{"wrong_pins": strconv.Itoa(count.n)}})
		e.endCeremonyLocked(e.suspendedNoticeLocked(u))
		return
	}
	now := e.cfg.Clock.Now()
	until := e.pol.Lockout.PINBackoff(count.n, count.last)
	if w := e.fails.blockedUntil(c.subject(), now); w.After(until) {
		until = w
	}
	if until.After(now) {
		e.endCeremonyLocked(&kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Kind: kiosk.KindPolicy, Tries: left, Until: until})
		return
	}
	e.view.Notice = &kiosk.Notice{Code: kiosk.NoticeWrongPIN, Kind: kiosk.KindPINInvalid, Tries: left}
	e.askPINLocked(e.cer.state)
}

// platformLockoutLocked handles a TPM in dictionary-attack lockout: PIN
// sign-in is paused for everyone on this terminal, which is not this
// person's doing alone, so it adds nothing to their backoff beyond their
// own wrong PIN. The screen says for
// how long and offers a security key when policy allows one.
func (e *Engine) platformLockoutLocked(err error, credID []byte) {
	// The wrong PIN that used the TPM's last try still counts against the
	// person who typed it (tpm.LockoutError.PINWasWrong).
	var wp interface{ PINWasWrong() bool }
	if errors.As(err, &wp) && wp.PINWasWrong() && e.cer.user != nil {
		e.addPINFailureLocked(e.cer.user.ID)
	}
	var ra interface{ RetryAfter() time.Duration }
	var until time.Time
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		until = e.cfg.Clock.Now().Add(ra.RetryAfter())
	}
	e.audit(kiosk.AuditEvent{Type: e.cer.failed(), User: e.cer.userID(), Credential: credID,
		Outcome: kiosk.KindTPMLockout.String(), Kind: kiosk.KindTPMLockout,
		Detail: map[string]string{"error": err.Error(), "terminal-wide": "true"}})
	e.endCeremonyLocked(e.pausedNoticeLocked(e.cer.user, until))
}

func (e *Engine) pausedNoticeLocked(u *kiosk.User, until time.Time) *kiosk.Notice {
	return &kiosk.Notice{Code: kiosk.NoticePlatformLocked, Kind: kiosk.KindTPMLockout, Tries: -1,
		Until: until, OfferKey: e.offerKeyLocked(u)}
}

// pausedGateLocked refuses a platform sign-in while the TPM is in lockout,
// before a PIN is asked for.
func (e *Engine) pausedGateLocked(u *kiosk.User) bool {
	p, ok := e.cfg.Platform.(kiosk.PlatformPause)
	if !ok {
		return false
	}
	wait := p.Paused()
	if wait <= 0 {
		return false
	}
	e.audit(kiosk.AuditEvent{Type: kiosk.EventRefused, User: u.ID, Outcome: kiosk.KindTPMLockout.String(), Kind: kiosk.KindTPMLockout,
		Detail: map[string]string{"wait": wait.Round(time.Second).String()}})
	e.endCeremonyLocked(e.pausedNoticeLocked(u, e.cfg.Clock.Now().Add(wait)))
	return true
}
