package softkey

import "time"

// userPresenceLocked asks the simulated person for a touch, the way a key
// blinks and waits (CTAP 2.1 §6.1.2 "user presence"). It releases k.mu for
// the wait, so tests can inspect and flip switches, and sends KEEPALIVE with
// status UPNEEDED meanwhile. Every wait ends: at the touch timeout, on
// cancel, or on unplug.
func (k *Key) userPresenceLocked(t *txn) error {
	k.sw.Lock()
	mode, delay := k.touchMode, k.touchDelay
	k.sw.Unlock()

	t.status.Store(keepaliveUPNeeded)
	defer t.status.Store(keepaliveProcessing)
	k.mu.Unlock()
	defer k.mu.Lock()

	// A touch nobody was waiting for does not count for this request.
	select {
	case <-k.touched:
	default:
	}
	k.awaiting.Add(1)
	defer k.awaiting.Add(-1)
	limit := time.NewTimer(k.cfg.TouchTimeout)
	defer limit.Stop()
	var decided <-chan time.Time
	switch mode {
	case TouchGiven:
		if t.ctx.Err() != nil {
			return StatusKeepaliveCancel
		}
		return nil
	case TouchAfterDelay, TouchRefused:
		d := time.NewTimer(delay)
		defer d.Stop()
		decided = d.C
	}
	select {
	case <-t.ctx.Done():
		return StatusKeepaliveCancel
	case <-k.touched:
		return nil
	case <-decided:
		if mode == TouchRefused {
			return StatusOperationDenied
		}
		return nil
	case <-limit.C:
		return StatusUserActionTimeout
	}
}

// confirmPresenceLocked is userPresenceLocked for a step that acts on the
// touch: a host that cancelled while the touch came in gets
// CTAP2_ERR_KEEPALIVE_CANCEL, not the operation.
func (k *Key) confirmPresenceLocked(t *txn) error {
	if err := k.userPresenceLocked(t); err != nil {
		return err
	}
	if t.ctx.Err() != nil {
		return StatusKeepaliveCancel
	}
	return nil
}

// builtInUVLocked reads a finger on the key's sensor (CTAP 2.1 §6.5.5.7.3
// with the uvRetries rules of §6.5.2.3): each mismatch costs one of the
// fingerprint retries, and at zero the sensor is blocked until a correct
// PIN restores it. A finger on the sensor is also a touch.
func (k *Key) builtInUVLocked(t *txn) error {
	if k.st.UVRetries == 0 {
		return StatusUVBlocked
	}
	if err := k.confirmPresenceLocked(t); err != nil {
		return err
	}
	k.sw.Lock()
	match := k.fingerMatch
	k.sw.Unlock()
	if match {
		if k.st.UVRetries != maxUVRetries {
			k.st.UVRetries = maxUVRetries
			return k.saveLocked()
		}
		return nil
	}
	k.st.UVRetries--
	if err := k.saveLocked(); err != nil {
		return err
	}
	if k.st.UVRetries == 0 {
		return StatusUVBlocked
	}
	return StatusUVInvalid
}
