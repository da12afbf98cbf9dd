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

// reprovisionLocked runs when an enrollment finds the SRK's persistent
// handle empty: the TPM was cleared while passkiosk was running, or someone
// evicted the SRK. It makes the SRK and the counter again, so that the
// enrollment goes ahead at once. Open and this are the only places that
// create a primary key; sign-in never does (srkGoneLocked).
//
// If only the persistent copy was evicted, the storage seed is unchanged
// and the SRK made again from the same template is the same key with the
// same Name, so every key made before loads again. After a clear it is a
// new key, and every key made before stays gone.
func (k *TPM) reprovisionLocked() {
	k.logf("tpm: storage root key 0x%08x is gone: provisioning it again", uint32(k.srk.Handle))
	if err := k.ensureSRK(k.srk.Handle); err != nil {
		k.logf("tpm: re-provision storage root key: %v", err)
		return
	}
	if err := k.ensureCounter(k.counter.Handle); err != nil {
		k.logf("tpm: re-provision counter: %v", err)
	}
}

// srkGoneLocked explains a sign-in (or PIN change, or attestation) whose
// TPM2_Load found the SRK's persistent handle empty. It creates nothing:
// a primary key takes up to a quarter of a second on a real chip, and the
// person's key would load under a re-created SRK only if the storage seed
// is unchanged. Which of the two it is, one NV read tells: TPM2_Clear
// deletes every owner NV index (Part 3 §24.6), so if passkiosk's counter
// is still there, the TPM was not cleared and only the persistent SRK was
// evicted. Then the keys are intact, and the SRK made again at the next
// enrollment or Open is the same key; the error is a device error that
// says so. If the counter is gone too, the TPM was cleared: KindTPMCleared.
func (k *TPM) srkGoneLocked(op string, err error) error {
	h := uint32(k.srk.Handle)
	k.logf("tpm: storage root key 0x%08x is gone: %v", h, err)
	pub, rerr := k.readNVPublic(k.counter.Handle)
	switch {
	case rerr == nil && bytes.Equal(pub.name.Buffer, k.counter.Name.Buffer):
		return kiosk.E(kiosk.KindDevice, op, fmt.Errorf(
			"the TPM's storage root key 0x%08x was removed, but the TPM was not cleared and the keys are intact: "+
				"it is made again at the next enrollment or when passkiosk restarts: %w", h, err))
	case errors.Is(rerr, tpm2.TPMRCHandle):
		return kiosk.E(kiosk.KindTPMCleared, op, fmt.Errorf(
			"the storage root key 0x%08x and the counter are gone, the TPM was cleared: %w", h, err))
	case rerr != nil:
		return kiosk.E(kiosk.KindDevice, op, fmt.Errorf(
			"the TPM's storage root key 0x%08x is gone, and reading the counter to tell whether the TPM was cleared failed (%v): %w", h, rerr, err))
	}
	return kiosk.E(kiosk.KindDevice, op, fmt.Errorf(
		"the TPM's storage root key 0x%08x is gone and the counter index was redefined: %w", h, err))
}

// refreshSRKLocked reads the Name of the SRK now at the persistent handle
// (TPM2_ReadPublic, no key is created). If it is a standard SRK other than
// the one passkiosk knew, someone provisioned it after a clear: passkiosk
// adopts it, as Open would, so that salted sessions and enrollments use it.
func (k *TPM) refreshSRKLocked() ([]byte, error) {
	rsp, err := (tpm2.ReadPublic{ObjectHandle: k.srk.Handle}).Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ReadPublic 0x%08x: %w", uint32(k.srk.Handle), err)
	}
	if bytes.Equal(rsp.Name.Buffer, k.srk.Name.Buffer) {
		return rsp.Name.Buffer, nil
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("TPM2_ReadPublic 0x%08x: %w", uint32(k.srk.Handle), err)
	}
	if isStandardSRK(pub) {
		k.logf("tpm: the storage root key at 0x%08x was replaced (TPM cleared and provisioned again): using the new one", uint32(k.srk.Handle))
		k.srk.Name = rsp.Name
		k.srkPub = *pub
	}
	return rsp.Name.Buffer, nil
}
