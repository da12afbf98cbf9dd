package tpm

import (
	"context"
	"crypto/ecdsa"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
)

// SignStatement signs msg (at most 1024 bytes, TPM2_Hash's buffer) with
// the TPM's attestation key, the restricted key that also certifies
// platform passkeys: TPM2_Hash gives the digest and a ticket that says
// the TPM hashed it (so msg cannot pose as a TPM-generated structure, Part
// 1 §25.2.3), and TPM2_Sign signs with that ticket (Part 3 §20.2). It
// returns the ASN.1 ECDSA signature over SHA-256(msg) and the key, which
// is the same for as long as the TPM keeps its endorsement seed.
func (k *TPM) SignStatement(ctx context.Context, msg []byte) ([]byte, *ecdsa.PublicKey, error) {
	const op = "tpm sign statement"
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, nil, kiosk.E(kiosk.KindCancelled, op, err)
	}
	if len(msg) > 1024 {
		return nil, nil, kiosk.Errorf(kiosk.KindMalformed, op, "a statement of %d bytes: at most 1024", len(msg))
	}
	var sig []byte
	var pub *ecdsa.PublicKey
	err := k.withAK(func(ak tpm2.NamedHandle, p *ecdsa.PublicKey) error {
		h, err := (tpm2.Hash{Data: tpm2.TPM2BMaxBuffer{Buffer: msg}, HashAlg: tpm2.TPMAlgSHA256, Hierarchy: tpm2.TPMRHOwner}).Execute(k.t)
		if err != nil {
			return fmt.Errorf("TPM2_Hash: %w", err)
		}
		rsp, err := (tpm2.Sign{
			KeyHandle:  tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
			Digest:     tpm2.TPM2BDigest{Buffer: h.OutHash.Buffer},
			InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			Validation: h.Validation,
		}).Execute(k.t)
		if err != nil {
			return fmt.Errorf("TPM2_Sign (attestation key): %w", err)
		}
		if sig, err = derSignature(&rsp.Signature); err != nil {
			return err
		}
		pub = p
		return nil
	})
	if err != nil {
		return nil, nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	return sig, pub, nil
}
