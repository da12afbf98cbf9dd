package tpm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// AAGUID identifies passkiosk's TPM platform authenticator in every
// credential it registers (WebAuthn §6.5.1). It is a fixed random UUID,
// so a policy can allow or block "passkeys in this terminal's TPM" like
// any authenticator model.
var AAGUID = fido.AAGUID{0xe3, 0xc5, 0x93, 0x02, 0xaa, 0x2d, 0x4b, 0x27, 0x96, 0x95, 0x8e, 0xff, 0x60, 0x95, 0x95, 0xaa}

// AAGUIDString is AAGUID in its usual form.
const AAGUIDString = "e3c59302-aa2d-4b27-9695-8eff609595aa"

// EnrollRequest asks for a new TPM credential for one person.
type EnrollRequest struct {
	RPID string
	// PIN becomes the key's authorization value (see authValue). It
	// stays the caller's: Enroll keeps no copy, and the caller wipes it.
	PIN []byte
	// ClientDataHash is SHA-256 of the registration's client data; the
	// attestation statement signs over it (WebAuthn §6.5.4).
	ClientDataHash [32]byte
	// Attest asks for a "tpm" attestation statement from the attestation
	// key. It needs attestation certificates (SetAttestationCertificates);
	// without it the statement is "none".
	Attest bool
}

// Enrollment is a registered TPM credential: what the engine stores like
// any credential, plus the key blobs.
type Enrollment struct {
	// CredentialID is the key's TPM Name (Part 1 §16): nameAlg ‖
	// SHA-256(TPMT_PUBLIC), 34 bytes, unique per key and recomputable from
	// the blobs (CredentialID).
	CredentialID []byte
	// PublicKey is the COSE_Key (ES256).
	PublicKey []byte
	AAGUID    fido.AAGUID
	Counter   uint32
	Blobs     KeyBlobs
	// AuthData is the registration's authenticator data, with attested
	// credential data; AttestationObject wraps it with the statement, for
	// fido.VerifyRegistration.
	AuthData          []byte
	AttestationObject []byte
	Format            string
}

// Enroll creates a person's signing key under the SRK with their PIN as
// its authorization and returns the registration.
//
// Commands: TPM2_StartAuthSession (salted to the SRK), TPM2_Create,
// TPM2_NV_Increment, TPM2_NV_Read, and with Attest the attestation
// commands (see attest.go).
func (k *TPM) Enroll(ctx context.Context, req EnrollRequest) (*Enrollment, error) {
	const op = "tpm enroll"
	if req.RPID == "" {
		return nil, kiosk.Errorf(kiosk.KindPolicy, op, "empty RP ID")
	}
	if err := checkPIN(op, req.PIN); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, kiosk.E(kiosk.KindCancelled, op, err)
	}
	e, err := k.createKeyLocked(op, req.PIN)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, kiosk.E(kiosk.KindCancelled, op, err)
	}
	counter, err := k.nextCounter()
	if err != nil {
		k.counterKnown = false
		return nil, counterError(op, err)
	}
	k.counterValue, k.counterKnown = uint64(counter), true
	e.Counter = counter
	e.AuthData = (&fido.AuthData{
		RPIDHash: fido.RPIDHash(req.RPID),
		Flags:    fido.FlagUP | fido.FlagUV,
		Counter:  counter,
		Attested: &fido.AttestedCredential{AAGUID: AAGUID, CredentialID: e.CredentialID, PublicKey: e.PublicKey},
	}).Marshal()
	if err := k.attestationObjectLocked(ctx, op, e, req); err != nil {
		return nil, err
	}
	return e, nil
}

// createKeyLocked makes the person's key with the authValue of pin and a
// new salt, and returns the enrollment as far as the key goes: its blobs,
// credential ID and COSE public key.
func (k *TPM) createKeyLocked(op string, pin []byte) (*Enrollment, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	auth := authValue(salt, pin)
	defer clear(auth)
	created, err := k.createLocked(auth)
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, fmt.Errorf("TPM2_Create: %w", err))
	}
	blobs := KeyBlobs{
		Public:     tpm2.Marshal(created.OutPublic),
		Private:    tpm2.Marshal(created.OutPrivate),
		AuthSalt:   salt,
		ParentName: append([]byte(nil), k.srk.Name.Buffer...),
	}
	pub, err := created.OutPublic.Contents()
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, fmt.Errorf("TPM2_Create public area: %w", err))
	}
	id, cose, err := credentialFromPublic(pub)
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	return &Enrollment{CredentialID: id, PublicKey: cose.Bytes(), AAGUID: AAGUID, Blobs: blobs}, nil
}

// createLocked is TPM2_Create of a key with auth under the SRK.
func (k *TPM) createLocked(auth []byte) (*tpm2.CreateResponse, error) {
	create := func() (*tpm2.CreateResponse, error) {
		return (tpm2.Create{
			ParentHandle: k.srkAuth(),
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				UserAuth: tpm2.TPM2BAuth{Buffer: auth},
			}},
			InPublic: tpm2.New2B(keyTemplate),
		}).Execute(k.t)
	}
	created, err := create()
	if errors.Is(err, tpm2.TPMRCHandle) {
		// The SRK's persistent handle is empty (the TPM was cleared, or the
		// SRK evicted, since Open): provision it again and enroll under it.
		// The salted session fails first, at TPM2_StartAuthSession, with
		// the same code.
		k.reprovisionLocked()
		created, err = create()
	}
	return created, err
}

// attestationObjectLocked wraps the enrollment's authenticator data in an
// attestation object, with a "tpm" statement when req asks for
// attestation and "none" otherwise.
func (k *TPM) attestationObjectLocked(ctx context.Context, op string, e *Enrollment, req EnrollRequest) error {
	format, stmt := "none", cbor.RawMessage{0xa0} // an empty map
	if req.Attest {
		format = "tpm"
		var err error
		if stmt, err = k.attestLocked(ctx, &e.Blobs, req.PIN, e.AuthData, req.ClientDataHash); err != nil {
			return err
		}
	}
	attObj, err := fido.MarshalAttestationObject(format, e.AuthData, stmt)
	if err != nil {
		return kiosk.E(kiosk.KindDevice, op, err)
	}
	e.AttestationObject, e.Format = attObj, format
	return nil
}

// CredentialID recomputes a stored key's credential ID (its TPM Name).
func CredentialID(b *KeyBlobs) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	pub, err := parsePublic(b.Public)
	if err != nil {
		return nil, err
	}
	id, _, err := credentialFromPublic(pub)
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "tpm credential id", err)
	}
	return id, nil
}

func parsePublic(b []byte) (*tpm2.TPMTPublic, error) {
	p2b, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b)
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "tpm key blobs", fmt.Errorf("public area: %w", err))
	}
	pub, err := p2b.Contents()
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "tpm key blobs", fmt.Errorf("public area: %w", err))
	}
	return pub, nil
}

func credentialFromPublic(pub *tpm2.TPMTPublic) (id []byte, cose fido.PublicKey, err error) {
	ec, err := publicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	cose, err = fido.NewPublicKey(ec)
	if err != nil {
		return nil, nil, err
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, nil, err
	}
	return name.Buffer, cose, nil
}

// srkAuth authorizes the SRK as a parent with a salted HMAC session that
// encrypts the first command parameter: for TPM2_Create that is the new
// key's sensitive area, so the PIN-derived authValue never crosses the bus
// in clear (Part 1 §21, session-based encryption; §19.6.13, salted
// sessions). The salt is encrypted to the SRK's own public key, read from
// the TPM at Open.
func (k *TPM) srkAuth() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: k.srk.Handle, Name: k.srk.Name, Auth: k.session(nil)}
}

// session returns a one-use salted, parameter-encrypting HMAC session that
// proves knowledge of auth. The TPM flushes it after a successful command;
// go-tpm flushes it after a failed one.
func (k *TPM) session(auth []byte) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16,
		tpm2.Auth(auth),
		tpm2.Salted(k.srk.Handle, k.srkPub),
		tpm2.AESEncryption(128, tpm2.EncryptIn))
}
