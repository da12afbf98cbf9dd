package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
)

// DefaultSRKHandle is where passkiosk keeps its storage root key: the
// persistent handle the TCG provisioning guidance and handle registry give
// the ECC P-256 storage root key (0x81000002; 0x81000001 is the RSA one).
// Because the key there is derived from the storage seed with a fixed,
// published template, any program that provisioned the standard ECC SRK at
// this handle made exactly the key passkiosk would make, and sharing it is
// the intent of the guidance. An object of any other shape at the handle is
// refused rather than overwritten.
const DefaultSRKHandle tpm2.TPMHandle = 0x81000002

// srkTemplate is the TCG reference ECC P-256 SRK template (TCG TPM v2.0
// Provisioning Guidance §7.5.1, "Storage Root Key"): a restricted decryption
// key with AES-128-CFB for its children, empty authorization, noDA (its
// authorization is empty and public, so counting failures against it would
// only let anyone lock the TPM out).
var srkTemplate = tpm2.ECCSRKTemplate

// ensureSRK makes sure the persistent handle holds the standard ECC SRK,
// creating and persisting it once when the handle is empty. This runs at
// Open only: the sign-in path never creates a primary key.
func (k *TPM) ensureSRK(h tpm2.TPMHandle) error {
	const op = "tpm storage root key"
	rsp, err := (tpm2.ReadPublic{ObjectHandle: h}).Execute(k.t)
	if err != nil && !errors.Is(err, tpm2.TPMRCHandle) {
		return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_ReadPublic 0x%08x: %w", uint32(h), err))
	}
	if err != nil {
		if err := k.createSRK(h); err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, err)
		}
		rsp, err = (tpm2.ReadPublic{ObjectHandle: h}).Execute(k.t)
		if err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_ReadPublic 0x%08x: %w", uint32(h), err))
		}
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_ReadPublic 0x%08x: %w", uint32(h), err))
	}
	if !isStandardSRK(pub) {
		return kiosk.Errorf(kiosk.KindNoTPM, op,
			"persistent handle 0x%08x holds a key that is not the standard ECC storage key; choose another SRKHandle", uint32(h))
	}
	k.srk = tpm2.NamedHandle{Handle: h, Name: rsp.Name}
	k.srkPub = *pub
	return nil
}

// isStandardSRK reports whether pub is srkTemplate apart from its unique
// field (the public point, which the TPM derives).
func isStandardSRK(pub *tpm2.TPMTPublic) bool {
	got := *pub
	got.Unique = srkTemplate.Unique
	return bytes.Equal(tpm2.Marshal(got), tpm2.Marshal(srkTemplate))
}

func (k *TPM) createSRK(h tpm2.TPMHandle) error {
	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(k.owner)}
	created, err := (tpm2.CreatePrimary{
		PrimaryHandle: owner,
		InPublic:      tpm2.New2B(srkTemplate),
	}).Execute(k.t)
	if err != nil {
		return fmt.Errorf("TPM2_CreatePrimary (storage root key): %w", err)
	}
	defer k.flush(created.ObjectHandle)
	if _, err := (tpm2.EvictControl{
		Auth:             owner,
		ObjectHandle:     tpm2.NamedHandle{Handle: created.ObjectHandle, Name: created.Name},
		PersistentHandle: h,
	}).Execute(k.t); err != nil {
		if errors.Is(err, tpm2.TPMRCBadAuth) || errors.Is(err, tpm2.TPMRCAuthFail) {
			return fmt.Errorf("TPM2_EvictControl: the owner hierarchy needs its authorization value (Config.OwnerAuth): %w", err)
		}
		return fmt.Errorf("TPM2_EvictControl 0x%08x: %w", uint32(h), err)
	}
	return nil
}

// reprovisionLocked runs when the TPM says the SRK's persistent handle is
// empty: the TPM was cleared while passkiosk was running. It makes the SRK
// and the counter again, so that new enrollments work at once; every key
// made before is gone. This is the one path besides Open that may create a
// primary key, and it runs only after such a failure.
func (k *TPM) reprovisionLocked() {
	k.logf("tpm: storage root key 0x%08x is gone (TPM cleared): provisioning again", uint32(k.srk.Handle))
	if err := k.ensureSRK(k.srk.Handle); err != nil {
		k.logf("tpm: re-provision storage root key: %v", err)
		return
	}
	if err := k.ensureCounter(k.counter.Handle); err != nil {
		k.logf("tpm: re-provision counter: %v", err)
	}
}
