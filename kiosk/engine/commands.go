package engine

import "passkiosk/kiosk"

// EnterPIN answers a PIN prompt. The engine owns pin and zeroes it.
func (e *Engine) EnterPIN(pin []byte) {
	e.mu.Lock()
	defer e.unlock()
	c := e.cer
	switch {
	case c == nil:
		zero(pin)
	case c.step == kiosk.PromptNewPIN && c.kind == enrolling:
		e.platformEnrollLocked(pin)
	case c.step != kiosk.PromptPIN:
		zero(pin)
	case c.kind == signInRoaming:
		e.assertLocked(kiosk.UV{PIN: pin})
	case c.kind == signInPlatform, c.kind == proving && c.platformCred != nil:
		e.platformAssertLocked(pin)
	case c.kind == proving:
		e.proofAssertLocked(kiosk.UV{PIN: pin})
	case c.kind == enrolling:
		e.makeCredentialLocked(kiosk.UV{PIN: pin})
	default:
		zero(pin)
	}
}

// Cancel abandons the ceremony under way, or dismisses a finished
// enrollment or a notice.
func (e *Engine) Cancel() {
	e.mu.Lock()
	defer e.unlock()
	if e.cer == nil {
		if e.is(kiosk.StateLocked) && e.view.Notice != nil {
			e.view.Notice = nil
			e.publishLocked()
		}
		return
	}
	done := e.cer.step == kiosk.PromptEnrollDone
	if !done {
		detail := map[string]string{"prompt": e.cer.step.String()}
		if e.cer.kind == proving {
			detail["ceremony"] = "reauth"
		}
		e.audit(kiosk.AuditEvent{Type: kiosk.EventCancelled, User: e.cer.userID(), Outcome: kiosk.KindCancelled.String(), Kind: kiosk.KindCancelled,
			Detail: detail})
	}
	n := e.view.Notice
	if !done {
		n = nil
	}
	e.endCeremonyLocked(n)
}
