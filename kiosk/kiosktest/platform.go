package kiosktest

import (
	"context"
	"errors"
	"sync"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

// Platform is a fake TPM: one key per credential, the PIN checked with a
// dictionary-attack counter that locks out after MaxTries wrong PINs.
type Platform struct {
	mu       sync.Mutex
	OK       bool
	Reason   string
	MaxTries int
	failures int
	Cleared  bool
	keys     map[string]*platformKey // by credential id
	// Signs counts Assert calls that reached the "TPM".
	Signs int
}

type platformKey struct {
	auth *fidotest.Authenticator
	pin  string
}

// AAGUID of the fake platform authenticator.
var PlatformAAGUID = [16]byte{'f', 'a', 'k', 'e', '-', 't', 'p', 'm'}

func NewPlatform() *Platform {
	return &Platform{OK: true, MaxTries: 5, keys: map[string]*platformKey{}}
}

func (p *Platform) Status() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.OK, p.Reason
}

func (p *Platform) Enroll(ctx context.Context, rpID string, userHandle []byte, h [32]byte, pin []byte) (kiosk.PlatformEnrollment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := fidotest.NewAuthenticator(fido.AlgES256)
	a.AAGUID = PlatformAAGUID
	p.keys[string(a.CredID)] = &platformKey{auth: a, pin: string(pin)}
	return kiosk.PlatformEnrollment{AttestationObject: a.MakeCredentialHash(rpID, h),
		TPMPublic: []byte("pub"), TPMPrivate: []byte("priv")}, nil
}

func (p *Platform) Assert(ctx context.Context, cred kiosk.Credential, rpID string, h [32]byte, pin []byte) ([]byte, []byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Cleared {
		return nil, nil, kiosk.Errorf(kiosk.KindTPMCleared, "fake tpm", "keys are gone")
	}
	k, ok := p.keys[string(cred.ID)]
	if !ok {
		return nil, nil, kiosk.Errorf(kiosk.KindTPMCleared, "fake tpm", "no such key")
	}
	if p.failures >= p.MaxTries {
		return nil, nil, kiosk.Errorf(kiosk.KindTPMLockout, "fake tpm", "lockout")
	}
	p.Signs++
	if string(pin) != k.pin {
		p.failures++
		if p.failures >= p.MaxTries {
			return nil, nil, kiosk.E(kiosk.KindTPMLockout, "fake tpm", lockout{})
		}
		return nil, nil, kiosk.WithTries(kiosk.KindPINInvalid, "fake tpm", p.MaxTries-p.failures, errors.New("bad auth"))
	}
	ad, sig := k.auth.GetAssertionHash(rpID, h)
	return ad, sig, nil
}

// Authenticator returns the key behind a credential, to misbehave.
func (p *Platform) Authenticator(credID []byte) *fidotest.Authenticator {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[string(credID)].auth
}

// lockout reports how long the fake TPM's lockout lasts, as
// tpm.LockoutError does.
type lockout struct{}

func (lockout) Error() string             { return "lockout" }
func (lockout) RetryAfter() time.Duration { return 10 * time.Minute }
