package fleet

import (
	"context"
	"sync"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storeport"
)

// Codes is where a fleet terminal checks and redeems enrollment codes:
// the fleet service, which holds the directory's write role (doc.go).
// *Directory implements it for the service itself and for tests.
type Codes interface {
	LookupCode(ctx context.Context, code string) (Code, error)
	Redeem(ctx context.Context, r Redemption) (Code, int64, error)
}

// Records is the engine's kiosk.Store on a fleet terminal: the local
// store's (the mirror's) records for every sign-in, and the fleet's codes
// for enrollment, so a code is single-use across the fleet. Sign-in never
// waits on the network; enrollment with a code needs it and, offline, is
// refused with kiosk.KindOffline and a sentence the lock screen shows.
type Records struct {
	*storeport.Records
	codes    Codes
	status   func() Status
	observe  func(cred []byte, counter uint32, at time.Time)
	terminal string
	timeout  time.Duration

	mu      sync.Mutex
	pending map[kiosk.UserID]string // fleet codes redeemed by the engine, awaiting their credential
}

// NewRecords wraps the local records for agent's terminal; codes is
// where enrollment codes are checked and redeemed.
func NewRecords(local *storeport.Records, codes Codes, agent *Agent) *Records {
	return &Records{Records: local, codes: codes, status: agent.Status, observe: agent.observe, terminal: agent.opts.Terminal,
		timeout: 5 * time.Second, pending: map[kiosk.UserID]string{}}
}

// RecordSignIn stores the sign-in here, then hands a roaming key's new
// counter to the agent, which writes it to this terminal's prefix for
// clone detection across terminals (clone.go): never on the sign-in's
// path.
func (r *Records) RecordSignIn(id []byte, counter uint32, at time.Time) error {
	if err := r.Records.RecordSignIn(id, counter, at); err != nil {
		return err
	}
	if c, err := r.Records.Credential(id); err == nil && c.Attachment == kiosk.AttachRoaming && r.observe != nil {
		r.observe(id, counter, at)
	}
	return nil
}

// offline is the refusal of what needs the directory, or nil online.
func (r *Records) offline(op string) error {
	st := r.status()
	if st.Online && r.codes != nil {
		return nil
	}
	since := "it started"
	if !st.OfflineSince.IsZero() {
		since = st.OfflineSince.Local().Format("15:04")
	}
	return kiosk.Errorf(kiosk.KindOffline, op,
		"enrollment codes need the fleet's directory, which this terminal has not reached since %s; try again when it is back, or at another terminal", since)
}

// lookup asks the directory for a code: found, or local (the directory
// does not know it, so it may be one issued on this terminal alone), or
// refused.
func (r *Records) lookup(op, code string) (c Code, local bool, err error) {
	if err := r.offline(op); err != nil {
		return Code{}, false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	c, err = r.codes.LookupCode(ctx, code)
	switch {
	case err == nil:
		return c, false, nil
	case kiosk.KindOf(err) == kiosk.KindChallenge && c.ID == nil:
		return c, true, nil
	case kiosk.KindOf(err) == kiosk.KindChallenge:
		return c, false, kiosk.E(kiosk.KindNotFound, op, err)
	}
	return c, false, err
}

// CheckEnrollmentCode asks the directory; a code it does not know may
// still be one issued on this terminal alone.
func (r *Records) CheckEnrollmentCode(code string, now time.Time) (kiosk.UserID, error) {
	c, local, err := r.lookup("check fleet code", code)
	switch {
	case err != nil:
		return "", err
	case local:
		return r.Records.CheckEnrollmentCode(code, now)
	}
	return kiosk.UserID(c.UserID), nil
}

// RedeemEnrollmentCode notes a fleet code for the credential the engine
// stores next: the code is used up in the same etcd transaction that
// stores that credential (AddCredential). A local code is redeemed
// locally.
func (r *Records) RedeemEnrollmentCode(code string, now time.Time) (kiosk.UserID, error) {
	c, local, err := r.lookup("redeem fleet code", code)
	switch {
	case err != nil:
		return "", err
	case local:
		return r.Records.RedeemEnrollmentCode(code, now)
	}
	r.mu.Lock()
	r.pending[kiosk.UserID(c.UserID)] = code
	r.mu.Unlock()
	return kiosk.UserID(c.UserID), nil
}

// NoBackupHere is kiosk.BackupsElsewhere: a credential added from a
// session would stay in this terminal's copy, which the directory's next
// full reload replaces, and the terminal cannot write the directory
// (doc.go). A second key is enrolled with a code from IT instead, and
// then works at every terminal.
func (r *Records) NoBackupHere() error {
	return kiosk.Errorf(kiosk.KindNotAllowed, "add a backup", "on a fleet terminal a second credential is enrolled with an enrollment code from IT")
}

var _ kiosk.BackupsElsewhere = (*Records)(nil)

// AddCredential stores a credential registered with a fleet code: first
// the code's redemption and the credential in the directory (one
// transaction, which one terminal wins), then the credential here, so
// the person signs in at once without waiting for the watch.
func (r *Records) AddCredential(c kiosk.Credential) error {
	r.mu.Lock()
	code, ok := r.pending[c.User]
	delete(r.pending, c.User)
	r.mu.Unlock()
	if ok {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		defer cancel()
		_, _, err := r.codes.Redeem(ctx, Redemption{Code: code, Terminal: r.terminal, Credential: storeCredential(c)})
		if kiosk.KindOf(err) == kiosk.KindChallenge {
			return kiosk.E(kiosk.KindNotFound, "redeem fleet code", err)
		}
		if err != nil {
			return err
		}
		// The watch may have brought the directory's copy here first.
		err = r.Records.AddCredential(c)
		if kiosk.KindOf(err) == kiosk.KindConflict {
			if have, herr := r.Records.Credential(c.ID); herr == nil && have.User == c.User {
				return nil
			}
		}
		return err
	}
	return r.Records.AddCredential(c)
}

// storeCredential is the directory's view of a new credential: its public
// part (the TPM blobs of a platform credential stay on this terminal).
func storeCredential(c kiosk.Credential) store.Credential {
	sc := store.Credential{ID: c.ID, UserID: []byte(c.User), PublicKey: c.PublicKey, Counter: c.Counter, AAGUID: c.AAGUID,
		BackupEligible: c.BackupEligible, Label: c.Label, Format: c.Format, Created: c.Created, Kind: store.KindRoaming,
		Transports: []string{"usb"}}
	if c.Attachment == kiosk.AttachPlatform {
		sc.Kind, sc.Transports = store.KindPlatform, []string{"internal"}
	}
	return sc
}
