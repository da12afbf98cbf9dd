package tpm

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// DAParams are the TPM's dictionary-attack parameters (TPM 2.0 Part 3
// §25.3, TPM2_DictionaryAttackParameters): the lockout comes at MaxTries
// authorization failures, one failure is forgotten every Interval, and
// after a failed lockout authorization the lockout hierarchy itself waits
// Recovery.
//
// The counter is one for the whole chip. On a terminal shared by many
// people the appliance counts wrong PINs per person (the engine), far
// below MaxTries, so the chip's limit is a backstop against an attack
// that ordinary typos never reach. swtpm's own defaults (3 failures, one
// forgotten every 1000 s) would let two people's typos pause PIN sign-in
// for everyone.
type DAParams struct {
	MaxTries uint32
	Interval time.Duration
	Recovery time.Duration
}

// DefaultDAParams suit a shared terminal: 32 failures, one forgotten every
// 10 minutes (the values Windows sets), and a day for the lockout
// hierarchy after a wrong lockout authorization.
var DefaultDAParams = DAParams{MaxTries: 32, Interval: 600 * time.Second, Recovery: 86400 * time.Second}

func (p DAParams) check() error {
	if p.MaxTries == 0 || p.Interval < 0 || p.Recovery < 0 ||
		p.Interval/time.Second > math.MaxUint32 || p.Recovery/time.Second > math.MaxUint32 {
		return fmt.Errorf("dictionary-attack parameters need max tries ≥ 1 and interval and recovery of 0 to 2^32-1 seconds")
	}
	return nil
}

// DAStatus says whether the appliance manages the TPM's dictionary-attack
// parameters, and what they are as read back from the TPM at Open.
type DAStatus struct {
	// Managed: the configured parameters were applied with the lockout
	// authorization, and the appliance can reset a lockout.
	Managed bool
	// Source is where the lockout authorization came from: "sealed"
	// (set by passkiosk, kept sealed to this TPM), "file" (IT's), or
	// "empty".
	Source string
	// Reason says why not, when not Managed.
	Reason string
	// State is what TPM2_GetCapability said after Open.
	State LockoutState
}

// DAStatus returns what Open found and did about the dictionary-attack
// parameters.
func (k *TPM) DAStatus() DAStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.da
}

// lockoutAuthSet reads TPMA_PERMANENT.lockoutAuthSet (Part 2 §8.6, bit 2).
func (k *TPM) lockoutAuthSet() (bool, error) {
	perm, err := k.properties(tpm2.TPMPTPermanent, 1)
	if err != nil {
		return false, err
	}
	return perm[tpm2.TPMPTPermanent]&(1<<2) != 0, nil
}

// manageDA runs at Open, after the SRK exists. It finds the lockout
// authorization, applies cfg.DA with it and reads the parameters back.
// Nothing here stops Open: without the authorization the appliance runs
// with the chip's parameters, and DAStatus says so.
//
// Where the authorization comes from, in order, each tried at most once
// (a wrong lockout authorization locks the lockout hierarchy itself for
// its recovery time):
//   - cfg.SealedLockoutAuth, blobs passkiosk made earlier, unsealed under
//     the SRK;
//   - cfg.LockoutAuth, IT's value from a root-only file;
//   - an empty authorization (TPMA_PERMANENT.lockoutAuthSet clear: a new
//     or cleared TPM, swtpm). With cfg.SaveSealedLockoutAuth the appliance
//     then takes the hierarchy over: it draws a random authorization, seals
//     it under the SRK, has the blobs stored, and only then sets it with
//     TPM2_HierarchyChangeAuth, so a crash in between never loses it.
func (k *TPM) manageDA(cfg Config) {
	k.da = DAStatus{}
	defer func() {
		s, err := k.lockoutLocked()
		if err != nil {
			k.logf("tpm: read dictionary-attack parameters: %v", err)
			return
		}
		k.da.State = s
	}()
	if cfg.DA == nil {
		k.da.Reason = "not configured: the chip's own parameters are in force"
		return
	}
	if err := cfg.DA.check(); err != nil {
		k.da.Reason = err.Error()
		return
	}
	set, err := k.lockoutAuthSet()
	if err != nil {
		k.da.Reason = fmt.Sprintf("cannot read TPMA_PERMANENT: %v", err)
		return
	}
	var auth []byte
	switch {
	case !set && cfg.SaveSealedLockoutAuth != nil:
		// A new or cleared TPM (a clear also empties lockoutAuth, and any
		// sealed copy is then for an SRK that is gone).
		if auth, err = k.takeLockoutLocked(cfg.SaveSealedLockoutAuth); err != nil {
			k.da.Reason = fmt.Sprintf("cannot set a lockout authorization: %v", err)
			return
		}
		k.da.Source = "sealed"
	case !set:
		k.da.Source = "empty"
	default:
		if len(cfg.SealedLockoutAuth) > 0 {
			if auth, err = k.unsealLocked(cfg.SealedLockoutAuth); err == nil {
				k.da.Source = "sealed"
			} else {
				k.logf("tpm: unseal the stored lockout authorization: %v", err)
				auth = nil
			}
		}
		if auth == nil && len(cfg.LockoutAuth) > 0 {
			auth, k.da.Source = cfg.LockoutAuth, "file"
		}
		if auth == nil {
			k.da.Reason = "the TPM's lockout authorization is set, passkiosk holds no copy of it, and no lockout_auth_file is configured"
			return
		}
	}
	if err := k.lockoutCommand(tpm2.TPMCCDictionaryAttackParameters, auth, cfg.DA.wire()); err != nil {
		k.da.Reason = fmt.Sprintf("TPM2_DictionaryAttackParameters: %v", err)
		return
	}
	k.lockoutAuth = auth
	k.da.Managed = true
}

func (p DAParams) wire() []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint32(b[0:], p.MaxTries)
	binary.BigEndian.PutUint32(b[4:], uint32(p.Interval/time.Second))
	binary.BigEndian.PutUint32(b[8:], uint32(p.Recovery/time.Second))
	return b
}

// takeLockoutLocked gives an empty lockout hierarchy a random
// authorization: 24 random bytes in base64url, 32 bytes with no zero byte
// (see authValue for why zeros are avoided).
func (k *TPM) takeLockoutLocked(save func([]byte) error) ([]byte, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	auth := make([]byte, base64.RawURLEncoding.EncodedLen(len(raw)))
	base64.RawURLEncoding.Encode(auth, raw)
	clear(raw)
	sealed, err := k.sealLocked(auth)
	if err != nil {
		return nil, err
	}
	if err := save(sealed); err != nil {
		return nil, fmt.Errorf("store the sealed lockout authorization: %w", err)
	}
	// The session encrypts newAuth, the command's first parameter.
	if _, err := (tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)},
		NewAuth:    tpm2.TPM2BAuth{Buffer: auth},
	}).Execute(k.t, k.session(nil)); err != nil {
		return nil, fmt.Errorf("TPM2_HierarchyChangeAuth: %w", err)
	}
	return auth, nil
}

// sealedTemplate is a sealed data object (Part 1 §27.2): keyedHash with no
// scheme, its secret in the sensitive area, usable only under this TPM's
// SRK. It is not PIN-protected (its authValue is empty and only the
// appliance, as root, holds the blobs), so it carries noDA: a failed
// unseal must never count against the people's PINs.
var sealedTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgKeyedHash,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:     true,
		FixedParent:  true,
		UserWithAuth: true,
		NoDA:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
		Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

// sealedBlobs is what the store keeps of the sealed lockout authorization.
type sealedBlobs struct {
	Public     []byte `cbor:"1,keyasint"`
	Private    []byte `cbor:"2,keyasint"`
	ParentName []byte `cbor:"3,keyasint"`
}

// sealLocked seals secret under the SRK with TPM2_Create; a salted
// session encrypts the sensitive area on the bus.
func (k *TPM) sealLocked(secret []byte) ([]byte, error) {
	rsp, err := (tpm2.Create{
		ParentHandle: k.srkAuth(),
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
		}},
		InPublic: tpm2.New2B(sealedTemplate),
	}).Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Create (seal): %w", err)
	}
	return cbor.Marshal(sealedBlobs{
		Public:     tpm2.Marshal(rsp.OutPublic),
		Private:    tpm2.Marshal(rsp.OutPrivate),
		ParentName: append([]byte(nil), k.srk.Name.Buffer...),
	})
}

// unsealLocked loads sealed blobs under the SRK and unseals them with a
// salted session that encrypts the response, so the secret does not cross
// the bus in clear.
func (k *TPM) unsealLocked(data []byte) ([]byte, error) {
	var b sealedBlobs
	if err := cbor.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	if string(b.ParentName) != string(k.srk.Name.Buffer) {
		return nil, errors.New("sealed under another storage root key (the TPM was cleared)")
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b.Public)
	if err != nil {
		return nil, err
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](b.Private)
	if err != nil {
		return nil, err
	}
	loaded, err := k.loadUnderSRK(pub, priv)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	defer k.flush(loaded.Handle)
	rsp, err := (tpm2.Unseal{
		ItemHandle: tpm2.AuthHandle{Handle: loaded.Handle, Name: loaded.Name,
			Auth: tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Auth(nil),
				tpm2.Salted(k.srk.Handle, k.srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut))},
	}).Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Unseal: %w", err)
	}
	return rsp.OutData.Buffer, nil
}

// ResetLockoutManaged ends a TPM lockout with the lockout authorization
// Open found (TPM2_DictionaryAttackLockReset). It fails when the appliance
// does not manage the parameters (DAStatus.Managed).
func (k *TPM) ResetLockoutManaged() error {
	const op = "tpm reset lockout"
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.da.Managed {
		return kiosk.Errorf(kiosk.KindPolicy, op, "passkiosk does not hold this TPM's lockout authorization: %s", k.da.Reason)
	}
	if err := k.lockoutCommand(tpm2.TPMCCDictionaryAttackLockReset, k.lockoutAuth, nil); err != nil {
		return kiosk.E(kiosk.KindDevice, op, fmt.Errorf("TPM2_DictionaryAttackLockReset: %w", err))
	}
	return nil
}
