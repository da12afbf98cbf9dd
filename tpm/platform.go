package tpm

import (
	"bytes"
	"context"
	"errors"
	"time"

	"passkiosk/kiosk"
)

// Platform is the engine's kiosk.Platform port backed by a TPM, or by its
// absence: the appliance always has a Platform, which says why TPM
// passkeys are unavailable when Open failed.
type Platform struct {
	tpm    *TPM
	reason string
}

var _ kiosk.Platform = (*Platform)(nil)

// NewPlatform wraps the result of Open. With k nil, openErr says why there
// is no TPM and becomes the Status reason.
func NewPlatform(k *TPM, openErr error) *Platform {
	p := &Platform{tpm: k}
	if k == nil {
		p.reason = "no TPM"
		if openErr != nil {
			p.reason = openErr.Error()
		}
	}
	return p
}

// TPM returns the TPM behind the port, nil when there is none.
func (p *Platform) TPM() *TPM { return p.tpm }

// Status says whether TPM passkeys can be used here, and why not.
func (p *Platform) Status() (bool, string) {
	if p.tpm == nil {
		return false, p.reason
	}
	return true, ""
}

// Enroll creates a TPM credential. It is attested ("tpm" format) when
// attestation certificates are installed, and "none" otherwise. The user
// handle is not needed by the TPM: platform credentials are found through
// the store, not discovered on the authenticator.
func (p *Platform) Enroll(ctx context.Context, rpID string, _ []byte, clientDataHash [32]byte, pin []byte) (kiosk.PlatformEnrollment, error) {
	if p.tpm == nil {
		return kiosk.PlatformEnrollment{}, kiosk.Errorf(kiosk.KindNoTPM, "tpm enroll", "%s", p.reason)
	}
	p.tpm.mu.Lock()
	attest := len(p.tpm.akChain) != 0
	p.tpm.mu.Unlock()
	e, err := p.tpm.Enroll(ctx, EnrollRequest{RPID: rpID, PIN: pin, ClientDataHash: clientDataHash, Attest: attest})
	if err != nil {
		return kiosk.PlatformEnrollment{}, err
	}
	pub, priv, err := e.Blobs.StoredForm()
	if err != nil {
		return kiosk.PlatformEnrollment{}, err
	}
	return kiosk.PlatformEnrollment{AttestationObject: e.AttestationObject, TPMPublic: pub, TPMPrivate: priv}, nil
}

// Assert signs in with a stored platform credential.
func (p *Platform) Assert(ctx context.Context, cred kiosk.Credential, rpID string, clientDataHash [32]byte, pin []byte) ([]byte, []byte, error) {
	const op = "tpm sign-in"
	if p.tpm == nil {
		return nil, nil, kiosk.Errorf(kiosk.KindNoTPM, op, "%s", p.reason)
	}
	blobs, err := FromStoredForm(cred.TPMPublic, cred.TPMPrivate)
	if err != nil {
		return nil, nil, err
	}
	// The record's credential ID must be the key's Name: a record whose
	// blobs belong to another credential is refused before the TPM sees a PIN.
	if id, err := CredentialID(blobs); err != nil || !bytes.Equal(id, cred.ID) {
		return nil, nil, kiosk.E(kiosk.KindStoreCorrupt, op, errors.New("the stored key blobs are not this credential's"))
	}
	a, err := p.tpm.SignIn(ctx, blobs, rpID, clientDataHash, pin)
	if err != nil {
		return nil, nil, err
	}
	return a.AuthData, a.Signature, nil
}

var _ kiosk.PlatformPause = (*Platform)(nil)

// Paused is how long, at most, until the TPM takes a PIN again: nothing
// while tries are left, one lockout interval during a lockout (the TPM
// does not say how much of the current interval has passed). It asks the
// TPM (TPM2_GetCapability), so the lock screen can say PIN sign-in is
// paused before anyone types a PIN.
func (p *Platform) Paused() time.Duration {
	if p.tpm == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := p.tpm.Lockout(ctx)
	if err != nil {
		return 0
	}
	return s.RetryAfter()
}
