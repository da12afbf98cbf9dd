package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
)

// DefaultCounterIndex is the NV index of the terminal's signature counter.
// It lies outside the ranges the TCG handle registry gives to TPM
// manufacturers (0x01000000–0x013FFFFF) and to endorsement certificates
// (0x01C00000 and up); Config.CounterIndex moves it if a site uses it.
const DefaultCounterIndex tpm2.TPMHandle = 0x01B0F1D0

// The signature counter is one TPM NV counter for the whole terminal,
// shared by every credential on it (WebAuthn §6.1.1 allows a global
// counter). A counter index (TPM 2.0 Part 1 §37.2.4, TPMA_NV_COUNTER) can
// only be incremented, survives reboots and power loss, and when first
// written starts at the largest value any counter on the TPM ever held, so
// deleting and redefining it cannot move it back either. One index per
// credential would spend the TPM's scarce NV memory (a few kilobytes) for
// no gain: a relying party only needs every assertion's counter to exceed
// the last one it saw for that credential.
//
// The index has an empty authorization value, because it guards nothing
// secret: anyone who can talk to the TPM may push it forward, which only
// skips numbers (a push in the middle of a sign-in makes it sign again,
// see signLocked). noDA is set on it for the same reason as on the SRK.
var counterAttributes = tpm2.TPMANV{
	AuthWrite: true,
	AuthRead:  true,
	NoDA:      true,
	NT:        tpm2.TPMNTCounter,
}

func (k *TPM) ensureCounter(index tpm2.TPMHandle) error {
	const op = "tpm counter"
	pub, err := k.readNVPublic(index)
	if err != nil && !errors.Is(err, tpm2.TPMRCHandle) {
		return kiosk.E(kiosk.KindNoTPM, op, err)
	}
	if err != nil {
		if _, err := (tpm2.NVDefineSpace{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(k.owner)},
			PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
				NVIndex:    index,
				NameAlg:    tpm2.TPMAlgSHA256,
				Attributes: counterAttributes,
				DataSize:   8,
			}),
		}).Execute(k.t); err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_NV_DefineSpace 0x%08x: %w", uint32(index), err))
		}
		if pub, err = k.readNVPublic(index); err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, err)
		}
	}
	want := counterAttributes
	got := pub.public.Attributes
	got.Written = false
	if got != want || pub.public.DataSize != 8 || len(pub.public.AuthPolicy.Buffer) != 0 {
		return kiosk.Errorf(kiosk.KindNoTPM, op,
			"NV index 0x%08x exists but is not passkiosk's counter; choose another CounterIndex", uint32(index))
	}
	k.counter = tpm2.NamedHandle{Handle: index, Name: pub.name}
	if !pub.public.Attributes.Written {
		// A counter reads as uninitialised until its first increment;
		// the increment sets TPMA_NV_WRITTEN and so changes the Name.
		if _, err := k.nextCounter(); err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, err)
		}
		if pub, err = k.readNVPublic(index); err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, err)
		}
		k.counter.Name = pub.name
	}
	return nil
}

type nvPublic struct {
	public *tpm2.TPMSNVPublic
	name   tpm2.TPM2BName
}

func (k *TPM) readNVPublic(index tpm2.TPMHandle) (*nvPublic, error) {
	rsp, err := (tpm2.NVReadPublic{NVIndex: index}).Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_NV_ReadPublic 0x%08x: %w", uint32(index), err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("TPM2_NV_ReadPublic 0x%08x: %w", uint32(index), err)
	}
	return &nvPublic{public: pub, name: rsp.NVName}, nil
}

// nextCounter increments the counter and returns its new value. WebAuthn
// counters are 32 bits; the TPM's are 64. Reaching 2^32 would take a
// sign-in every second for 136 years, but it is still reported, not wrapped.
//
// If the index has vanished (someone undefined it, or the TPM was cleared)
// it is defined again once and the increment retried: the new index starts
// above every value the old one gave out, so the counter still only moves
// forward.
func (k *TPM) nextCounter() (uint32, error) {
	auth := k.counterAuth()
	_, err := (tpm2.NVIncrement{AuthHandle: auth, NVIndex: k.counter}).Execute(k.t)
	if errors.Is(err, tpm2.TPMRCHandle) && !k.redefining {
		if err := k.redefineCounter(); err != nil {
			return 0, err
		}
		auth = k.counterAuth()
		_, err = (tpm2.NVIncrement{AuthHandle: auth, NVIndex: k.counter}).Execute(k.t)
	}
	if err != nil {
		return 0, fmt.Errorf("TPM2_NV_Increment: %w", err)
	}
	v, err := k.readCounterValue()
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, fmt.Errorf("signature counter %d exceeds 32 bits", v)
	}
	return uint32(v), nil
}

// currentCounter reads the counter without moving it: sign-in signs over
// the value after it and increments only once the PIN has proved right
// (signin.go). An index that has vanished, or was defined again and never
// written, is made ready again first, as nextCounter does.
func (k *TPM) currentCounter() (uint64, error) {
	v, err := k.readCounterValue()
	if (errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCNVUninitialized)) && !k.redefining {
		if err := k.redefineCounter(); err != nil {
			return 0, err
		}
		v, err = k.readCounterValue()
	}
	return v, err
}

// cachedCounter is the counter's value as the last increment read it
// back, or as read now when there was none since Open. Signing over the
// cached value + 1 saves a TPM2_NV_Read on every sign-in after the first;
// the check after the increment (signLocked) still catches a counter that
// moved meanwhile, and a stale value only costs a second signature.
func (k *TPM) cachedCounter() (uint64, error) {
	if k.counterKnown {
		return k.counterValue, nil
	}
	v, err := k.currentCounter()
	if err != nil {
		return 0, err
	}
	k.counterValue, k.counterKnown = v, true
	return v, nil
}

// redefineCounter defines the counter index again after it vanished (or
// writes it once if it was never written), logging that it did.
func (k *TPM) redefineCounter() error {
	k.logf("tpm: counter index 0x%08x is gone: defining it again", uint32(k.counter.Handle))
	k.redefining = true
	defer func() { k.redefining = false }()
	return k.ensureCounter(k.counter.Handle)
}

func (k *TPM) counterAuth() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: k.counter.Handle, Name: k.counter.Name, Auth: tpm2.PasswordAuth(nil)}
}

// readCounterValue is TPM2_NV_Read of the whole counter (Part 3 §31.13).
func (k *TPM) readCounterValue() (uint64, error) {
	rsp, err := (tpm2.NVRead{AuthHandle: k.counterAuth(), NVIndex: k.counter, Size: 8}).Execute(k.t)
	if err != nil {
		return 0, fmt.Errorf("TPM2_NV_Read: %w", err)
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, fmt.Errorf("TPM2_NV_Read: %d bytes, want 8", len(rsp.Data.Buffer))
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}

// counterError classifies a failure to read or move the counter. A TPM
// rate-limits NV writes to protect its flash (TPM_RC_NV_RATE) and may
// briefly be unable to write at all (TPM_RC_NV_UNAVAILABLE; both warnings,
// Part 2 §6.6.3): nothing is wrong with the key or the PIN, trying again a
// little later works, and the engine must not count it against the person.
// The transport does not retry them: a rate limit can last longer than a
// person should wait at the lock screen.
func counterError(op string, err error) error {
	if errors.Is(err, tpm2.TPMRCNVRate) || errors.Is(err, tpm2.TPMRCNVUnavailable) {
		return kiosk.E(kiosk.KindDeviceBusy, op, fmt.Errorf("the TPM is not taking NV writes just now, try again in a moment: %w", err))
	}
	return kiosk.E(kiosk.KindDevice, op, err)
}
