package tpm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// akTemplate is the attestation key's template: an ECC P-256 restricted
// signing primary in the endorsement hierarchy (TPM 2.0 Part 1 §27.2.2).
// restricted means it signs only digests the TPM computed itself or that
// do not begin with TPM_GENERATED_VALUE, so nothing signed with it can be
// mistaken for a TPM attestation unless the TPM produced it. A primary is
// derived from the endorsement seed and this template, so the same TPM
// always yields the same key: it is re-created for each attested
// enrollment instead of being stored, and never on the sign-in path. Its
// authorization is empty, hence noDA.
var akTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	},
	Parameters: p256ECDSA(),
	Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// SetAttestationCertificates installs the attestation key's certificate
// chain (DER, the AIK certificate first, as WebAuthn's x5c), issued by the
// fleet's attestation CA for the key AttestationKey returns. Enrollments
// that ask for attestation fail without it. How the CA convinces itself the
// key lives in this TPM (for example TPM2_ActivateCredential against the
// endorsement key's certificate) is the fleet's procedure.
func (k *TPM) SetAttestationCertificates(chain [][]byte) error {
	const op = "tpm attestation certificates"
	if len(chain) == 0 {
		return kiosk.Errorf(kiosk.KindBadAttestation, op, "empty chain")
	}
	if _, err := x509.ParseCertificate(chain[0]); err != nil {
		return kiosk.E(kiosk.KindMalformed, op, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.akChain = chain
	return nil
}

// AttestationKey returns the attestation key's public key, for the fleet
// CA to certify (see NewAIKCertificate).
func (k *TPM) AttestationKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	const op = "tpm attestation key"
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, kiosk.E(kiosk.KindCancelled, op, err)
	}
	var pub *ecdsa.PublicKey
	err := k.withAK(func(_ tpm2.NamedHandle, p *ecdsa.PublicKey) error {
		pub = p
		return nil
	})
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	return pub, nil
}

func (k *TPM) withAK(fn func(ak tpm2.NamedHandle, pub *ecdsa.PublicKey) error) error {
	rsp, err := (tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(akTemplate),
	}).Execute(k.t)
	if err != nil {
		return fmt.Errorf("TPM2_CreatePrimary (attestation key): %w", err)
	}
	defer k.flush(rsp.ObjectHandle)
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return fmt.Errorf("TPM2_CreatePrimary (attestation key): %w", err)
	}
	cp, err := tpm2.Pub(*pub)
	if err != nil {
		return err
	}
	ec, ok := cp.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("attestation key is not ECDSA")
	}
	return fn(tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, ec)
}

// attestLocked certifies the new key with the attestation key,
// TPM2_Certify (Part 3 §18.2), with qualifyingData = SHA-256(authData ‖
// clientDataHash) as WebAuthn §8.3 asks, and packages the result as a "tpm"
// attestation statement that fido.VerifyRegistration checks.
func (k *TPM) attestLocked(ctx context.Context, blobs *KeyBlobs, pin []byte, authData []byte, cdh [32]byte) (cbor.RawMessage, error) {
	const op = "tpm attest"
	if len(k.akChain) == 0 {
		return nil, kiosk.Errorf(kiosk.KindPolicy, op, "attestation asked for, but no attestation certificate is installed")
	}
	cert, err := x509.ParseCertificate(k.akChain[0])
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	toSign := sha256.Sum256(append(append([]byte(nil), authData...), cdh[:]...))
	auth := authValue(blobs.AuthSalt, pin)
	defer clear(auth)
	var st fido.TPMStatement
	err = k.withAK(func(ak tpm2.NamedHandle, akPub *ecdsa.PublicKey) error {
		if !akPub.Equal(cert.PublicKey) {
			return kiosk.Errorf(kiosk.KindBadAttestation, op, "the installed attestation certificate is for another key than this TPM's attestation key")
		}
		return k.withKey(ctx, op, blobs, func(key tpm2.NamedHandle, _ []byte) error {
			rsp, err := (tpm2.Certify{
				// Certify needs the ADMIN role on the object; with
				// adminWithPolicy clear its authValue serves (Part 1 §19.7.4).
				ObjectHandle:   tpm2.AuthHandle{Handle: key.Handle, Name: key.Name, Auth: k.session(auth)},
				SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
				QualifyingData: tpm2.TPM2BData{Buffer: toSign[:]},
				InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			}).Execute(k.t)
			if err != nil {
				return k.useError(op, fmt.Errorf("TPM2_Certify: %w", err))
			}
			sig, err := derSignature(&rsp.Signature)
			if err != nil {
				return kiosk.E(kiosk.KindDevice, op, err)
			}
			pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](blobs.Public)
			if err != nil {
				return kiosk.E(kiosk.KindMalformed, op, err)
			}
			st = fido.TPMStatement{
				Ver: "2.0", Alg: int64(fido.AlgES256), X5C: k.akChain, Sig: sig,
				CertInfo: rsp.CertifyInfo.Bytes(), PubArea: pub.Bytes(),
			}
			return nil
		})
	})
	if err != nil {
		if kiosk.KindOf(err) == kiosk.KindUnknown {
			err = kiosk.E(kiosk.KindDevice, op, err)
		}
		return nil, err
	}
	out, err := cbor.Marshal(st)
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, err)
	}
	return out, nil
}

// Info names the TPM the way an AIK certificate's subject alternative name
// does (TCG EK Credential Profile §3.2.9).
type Info struct {
	Manufacturer string // "id:4D534654"
	Model        string // vendor string, e.g. "SW   TPM"
	Version      string // "id:00020008"
}

// Info reads the TPM's manufacturer, model and firmware version.
func (k *TPM) Info(ctx context.Context) (Info, error) {
	const op = "tpm info"
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Info{}, kiosk.E(kiosk.KindCancelled, op, err)
	}
	p, err := k.properties(tpm2.TPMPTManufacturer, 7)
	if err != nil {
		return Info{}, kiosk.E(kiosk.KindDevice, op, err)
	}
	var model bytes.Buffer
	for pt := tpm2.TPMPTManufacturer + 1; pt <= tpm2.TPMPTManufacturer+4; pt++ {
		v := p[pt]
		model.Write([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	m := strings.TrimSpace(strings.TrimRight(model.String(), "\x00"))
	if m == "" {
		m = "unknown"
	}
	return Info{
		Manufacturer: fmt.Sprintf("id:%08X", p[tpm2.TPMPTManufacturer]),
		Model:        m,
		// TPM_PT_FIRMWARE_VERSION_1 follows the vendor strings and
		// TPM_PT_VENDOR_TPM_TYPE.
		Version: fmt.Sprintf("id:%08X", p[tpm2.TPMPTManufacturer+6]),
	}, nil
}
