package tpm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math"
	"math/big"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// Assertion is what a sign-in produces: verified by fido.VerifyAssertion
// exactly like a security key's.
type Assertion struct {
	CredentialID []byte
	AuthData     []byte
	// Signature is ES256: an ASN.1 DER ECDSA signature over
	// authData ‖ clientDataHash (WebAuthn §6.3.3 step 11).
	Signature []byte
	Counter   uint32
}

// SignIn signs an assertion with a person's key, authorized by their PIN.
// The TPM checks the PIN; a wrong one is kiosk.KindPINInvalid with the
// tries left, a locked-out TPM is kiosk.KindTPMLockout, and a key the TPM
// can no longer load is kiosk.KindTPMCleared (keys gone) or
// kiosk.KindStoreCorrupt / kiosk.KindMalformed (the stored blobs were
// altered); see loadError.
//
// Commands, in order: TPM2_Load, TPM2_StartAuthSession, TPM2_Sign,
// TPM2_NV_Increment, TPM2_NV_Read, TPM2_FlushContext (and a TPM2_NV_Read
// first on the first sign-in after Open: cachedCounter); with a kept
// session (Config.KeepSession) no TPM2_StartAuthSession once it is open. No key is
// created, and a wrong PIN writes nothing to NV (see signLocked).
//
// The PIN is the caller's to wipe; SignIn keeps no copy of it, and wipes
// the authValue derived from it before it returns.
func (k *TPM) SignIn(ctx context.Context, blobs *KeyBlobs, rpID string, clientDataHash [32]byte, pin []byte) (*Assertion, error) {
	const op = "tpm sign-in"
	if err := checkPIN(op, pin); err != nil {
		return nil, err
	}
	if err := blobs.check(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out *Assertion
	auth := authValue(blobs.AuthSalt, pin)
	defer clear(auth)
	err := k.withKey(ctx, op, blobs, func(key tpm2.NamedHandle, id []byte) error {
		a, err := k.signLocked(ctx, op, key, auth, rpID, clientDataHash)
		if err != nil {
			return err
		}
		a.CredentialID = id
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// counterAttempts bounds how often a sign-in signs again when the counter
// moved under it (see signLocked).
const counterAttempts = 3

// signLocked signs the assertion first and moves the counter after.
//
// The counter's value is known (cachedCounter: as the last increment read
// it back, or one TPM2_NV_Read after Open), the assertion is signed over
// the value after it, and only then is the counter incremented: a wrong PIN
// fails at TPM2_Sign and costs no NV write. Incrementing first would spend
// one write of the TPM's flash on every wrong PIN, and a burst of them can
// run into the TPM's NV rate limit (TPM_RC_NV_RATE) on a real chip.
//
// This keeps every assertion that leaves this function on a counter value
// no other assertion ever had:
//   - The assertion is returned only after TPM2_NV_Increment succeeded and
//     the value read after it is exactly the value signed. A TPM counter
//     moves by one per increment and never back, not even across a
//     redefinition of the index (Part 1 §37.2.4), so that value was made
//     by this increment alone.
//   - If anything else incremented the counter between the read and the
//     increment (another program on the TPM), the values differ: that
//     signature is dropped, never returned, and the key signs again over
//     the next value, up to counterAttempts times.
//   - A crash between TPM2_Sign and the increment loses a signature that
//     never left the process; the next sign-in may sign over the same
//     value, and is then the only assertion ever released with it. A
//     crash after the increment only skips a value.
//
// The happy path costs the same commands as incrementing first (the read
// before signing is cached), and the same single NV write.
func (k *TPM) signLocked(ctx context.Context, op string, key tpm2.NamedHandle, auth []byte, rpID string, clientDataHash [32]byte) (*Assertion, error) {
	cur, err := k.cachedCounter()
	if err != nil {
		return nil, counterError(op, err)
	}
	for attempt := 1; ; attempt++ {
		if cur >= math.MaxUint32 {
			return nil, kiosk.Errorf(kiosk.KindDevice, op, "signature counter %d would exceed 32 bits", cur)
		}
		counter := uint32(cur + 1)
		authData := (&fido.AuthData{
			RPIDHash: fido.RPIDHash(rpID),
			// The TPM verified the PIN: user verification. Presence is
			// the person at the terminal typing it.
			Flags:   fido.FlagUP | fido.FlagUV,
			Counter: counter,
		}).Marshal()
		if err := ctx.Err(); err != nil {
			return nil, kiosk.E(kiosk.KindCancelled, op, err)
		}
		digest := sha256.Sum256(append(append([]byte(nil), authData...), clientDataHash[:]...))
		sig, err := k.sign(key, auth, digest[:])
		if err != nil {
			return nil, k.useError(op, err)
		}
		got, err := k.nextCounter()
		if err != nil {
			k.counterKnown = false
			return nil, counterError(op, err)
		}
		k.counterValue, k.counterKnown = uint64(got), true
		if got == counter {
			return &Assertion{AuthData: authData, Signature: sig, Counter: counter}, nil
		}
		// The signature over counter is dropped here, unreleased.
		k.logf("tpm: signature counter moved from %d to %d during a sign-in (another program increments 0x%08x)",
			cur, got, uint32(k.counter.Handle))
		if attempt == counterAttempts {
			return nil, kiosk.Errorf(kiosk.KindDeviceBusy, op,
				"the signature counter 0x%08x keeps moving under passkiosk: another program is using it", uint32(k.counter.Handle))
		}
		cur = uint64(got)
	}
}

// withKey loads a person's key under the SRK, runs fn, and flushes the key.
// The key handle never escapes fn. It never creates a key: a missing SRK
// is reported (srkGoneLocked), and provisioned again only by Open or an
// enrollment.
func (k *TPM) withKey(ctx context.Context, op string, blobs *KeyBlobs, fn func(key tpm2.NamedHandle, id []byte) error) error {
	var id []byte
	return k.withLoaded(ctx, op, blobs, func(pub *tpm2.TPMTPublic) (err error) {
		if id, _, err = credentialFromPublic(pub); err != nil {
			return kiosk.E(kiosk.KindMalformed, op, err)
		}
		return nil
	}, func(key tpm2.NamedHandle) error { return fn(key, id) })
}

// withLoaded loads blobs under the SRK once check accepts their public
// area, runs fn, and flushes the key.
func (k *TPM) withLoaded(ctx context.Context, op string, blobs *KeyBlobs, check func(*tpm2.TPMTPublic) error, fn func(key tpm2.NamedHandle) error) error {
	if err := ctx.Err(); err != nil {
		return kiosk.E(kiosk.KindCancelled, op, err)
	}
	if !bytes.Equal(blobs.ParentName, k.srk.Name.Buffer) {
		return kiosk.Errorf(kiosk.KindTPMCleared, op,
			"the key was made under a storage root key this TPM no longer has (TPM cleared, or key from another machine)")
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](blobs.Public)
	if err != nil {
		return kiosk.E(kiosk.KindMalformed, op, fmt.Errorf("public blob: %w", err))
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](blobs.Private)
	if err != nil {
		return kiosk.E(kiosk.KindMalformed, op, fmt.Errorf("private blob: %w", err))
	}
	contents, err := pub.Contents()
	if err != nil {
		return kiosk.E(kiosk.KindMalformed, op, fmt.Errorf("public blob: %w", err))
	}
	if err := check(contents); err != nil {
		return err
	}
	loaded, err := k.loadUnderSRK(pub, priv)
	if err != nil {
		return k.loadError(op, blobs, err)
	}
	defer k.flush(loaded.Handle)
	return fn(loaded)
}

// loadUnderSRK loads a key made under the storage root key. The SRK's
// authorization is empty and public: a password session carries nothing
// secret, and TPM2_Load's inPrivate is already encrypted to the SRK. The
// caller flushes the handle.
func (k *TPM) loadUnderSRK(pub *tpm2.TPM2BPublic, priv *tpm2.TPM2BPrivate) (tpm2.NamedHandle, error) {
	loaded, err := (tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: k.srk.Handle, Name: k.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *priv,
		InPublic:     *pub,
	}).Execute(k.t)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("TPM2_Load: %w", err)
	}
	return tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name}, nil
}

// sign runs TPM2_Sign (Part 3 §20.2) with the key's own ECDSA-SHA256
// scheme and returns the signature in ASN.1 DER.
//
// With a kept session (Config.KeepSession) it authorizes through that, and
// when the TPM has lost the session (it says so before it looks at the
// PIN) it signs once more through a new one.
func (k *TPM) sign(key tpm2.NamedHandle, auth, digest []byte) ([]byte, error) {
	cmd := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: key.Handle, Name: key.Name, Auth: k.session(auth)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme:  tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		// An unrestricted key needs no hash-check ticket (Part 3 §20.2.1).
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}
	if k.kept != nil {
		k.kept.setAuth(auth)
		defer k.kept.setAuth(nil)
		cmd.KeyHandle = tpm2.AuthHandle{Handle: key.Handle, Name: key.Name, Auth: k.kept}
	}
	rsp, err := cmd.Execute(k.t)
	if err != nil && k.kept != nil && sessionLost(err) {
		k.logf("tpm: the kept session is gone (%v): opening a new one", err)
		rsp, err = cmd.Execute(k.t)
	}
	if err != nil {
		return nil, fmt.Errorf("TPM2_Sign: %w", err)
	}
	return derSignature(&rsp.Signature)
}

func derSignature(sig *tpm2.TPMTSignature) ([]byte, error) {
	ecc, err := sig.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("TPM2_Sign: %w", err)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(ecc.SignatureR.Buffer),
		new(big.Int).SetBytes(ecc.SignatureS.Buffer),
	})
}

// ChangePIN gives a key a new PIN with TPM2_ObjectChangeAuth (Part 3
// §12.6), authorized by the old one. The TPM returns a new private blob;
// the returned KeyBlobs replace the stored ones. The old private blob still
// loads with the old PIN (the TPM cannot revoke a copy), so the store must
// overwrite it.
func (k *TPM) ChangePIN(ctx context.Context, blobs *KeyBlobs, oldPIN, newPIN []byte) (*KeyBlobs, error) {
	const op = "tpm change PIN"
	if err := checkPIN(op, oldPIN); err != nil {
		return nil, err
	}
	if err := checkPIN(op, newPIN); err != nil {
		return nil, err
	}
	if err := blobs.check(); err != nil {
		return nil, err
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out *KeyBlobs
	oldAuth, newAuth := authValue(blobs.AuthSalt, oldPIN), authValue(salt, newPIN)
	defer clear(oldAuth)
	defer clear(newAuth)
	err := k.withKey(ctx, op, blobs, func(key tpm2.NamedHandle, _ []byte) error {
		rsp, err := (tpm2.ObjectChangeAuth{
			// The session encrypts newAuth, the first parameter.
			ObjectHandle: tpm2.AuthHandle{Handle: key.Handle, Name: key.Name, Auth: k.session(oldAuth)},
			ParentHandle: k.srk,
			NewAuth:      tpm2.TPM2BAuth{Buffer: newAuth},
		}).Execute(k.t)
		if err != nil {
			return k.useError(op, fmt.Errorf("TPM2_ObjectChangeAuth: %w", err))
		}
		out = &KeyBlobs{
			Public:     append([]byte(nil), blobs.Public...),
			Private:    tpm2.Marshal(rsp.OutPrivate),
			AuthSalt:   salt,
			ParentName: append([]byte(nil), blobs.ParentName...),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
