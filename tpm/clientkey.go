package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"

	"passkiosk/kiosk"
)

// A fleet terminal's identity is the private key of its mTLS client
// certificate. Made here, it never leaves the TPM: the file the appliance
// keeps is the key's TPM2B_PUBLIC and TPM2B_PRIVATE, the private part
// encrypted to this TPM's storage root key, so a copy of the file signs
// nothing anywhere else, and nothing on this machine but the TPM sees the
// key.
//
// The template is the people's (keyTemplate: fixedTPM, fixedParent,
// sensitiveDataOrigin, ECDSA P-256 with SHA-256 bound in), with two
// differences. Its authValue is empty: the appliance uses it unattended,
// whenever the fleet's connection is made again, and root on this
// terminal could use it anyway. And noDA is set: with no secret to guess,
// dictionary-attack protection guards nothing, and a TPM in lockout
// after people's wrong PINs must not also cut the terminal off its fleet.
// A PIN-protected key never has noDA.
var clientKeyTemplate = func() tpm2.TPMTPublic {
	t := keyTemplate
	t.ObjectAttributes.NoDA = true
	return t
}()

// ClientKey is a TPM-held key that signs a fleet terminal's TLS
// handshakes; it is a crypto.Signer for tls.Certificate.PrivateKey and
// x509.CreateCertificateRequest.
type ClientKey struct {
	k     *TPM
	blobs KeyBlobs
	pub   *ecdsa.PublicKey
}

// NewClientKey makes a new client key under the storage root key. Keep
// ClientKey.Marshal in a file only root reads.
func (k *TPM) NewClientKey(ctx context.Context) (*ClientKey, error) {
	const op = "tpm new fleet key"
	if err := ctx.Err(); err != nil {
		return nil, kiosk.E(kiosk.KindCancelled, op, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	create := tpm2.Create{
		ParentHandle: k.srkAuth(),
		InPublic:     tpm2.New2B(clientKeyTemplate),
	}
	created, err := create.Execute(k.t)
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, op, fmt.Errorf("TPM2_Create: %w", err))
	}
	blobs := KeyBlobs{
		Public:     tpm2.Marshal(created.OutPublic),
		Private:    tpm2.Marshal(created.OutPrivate),
		AuthSalt:   make([]byte, saltSize), // unused: the authValue is empty
		ParentName: append([]byte(nil), k.srk.Name.Buffer...),
	}
	return k.clientKey(op, blobs)
}

// LoadClientKey reads what ClientKey.Marshal wrote. A key of a cleared
// TPM, or of another machine, is refused here with KindTPMCleared: the
// terminal needs a new key and certificate.
func (k *TPM) LoadClientKey(data []byte) (*ClientKey, error) {
	const op = "tpm fleet key"
	blobs, err := ParseKeyBlobs(data)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	srk := append([]byte(nil), k.srk.Name.Buffer...)
	k.mu.Unlock()
	if string(blobs.ParentName) != string(srk) {
		return nil, kiosk.Errorf(kiosk.KindTPMCleared, op,
			"the fleet key was made under a storage root key this TPM no longer has (TPM cleared, or a file from another terminal): make a new key and certificate")
	}
	return k.clientKey(op, *blobs)
}

// clientKey checks that blobs are a client key (its template, not a
// person's key) and reads its public key.
func (k *TPM) clientKey(op string, blobs KeyBlobs) (*ClientKey, error) {
	pub, err := parsePublic(blobs.Public)
	if err != nil {
		return nil, err
	}
	if pub.ObjectAttributes != clientKeyTemplate.ObjectAttributes {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "not a fleet client key (object attributes %+v)", pub.ObjectAttributes)
	}
	// publicKey refuses noDA keys: people's keys must never be.
	pk, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	ec, ok := pk.(*ecdsa.PublicKey)
	if !ok || pub.Type != tpm2.TPMAlgECC {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "not an ECDSA key")
	}
	return &ClientKey{k: k, blobs: blobs, pub: ec}, nil
}

// Marshal is the key's file content: its blobs, useless off this TPM.
func (c *ClientKey) Marshal() ([]byte, error) { return c.blobs.Marshal() }

// Public is the key's ECDSA P-256 public key.
func (c *ClientKey) Public() crypto.PublicKey { return c.pub }

// Sign signs a SHA-256 digest in the TPM (TLS's ecdsa_secp256r1_sha256,
// and certificate requests), in ASN.1 DER. Other hashes are refused: the
// key's scheme binds SHA-256.
func (c *ClientKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	const op = "tpm fleet key sign"
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, kiosk.Errorf(kiosk.KindAlgorithm, op, "the key signs SHA-256 digests only, not %v", opts.HashFunc())
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	var sig []byte
	checked := func(*tpm2.TPMTPublic) error { return nil } // by LoadClientKey
	err := c.k.withLoaded(context.Background(), op, &c.blobs, checked, func(key tpm2.NamedHandle) error {
		var err error
		if sig, err = c.k.sign(key, nil, digest); err != nil {
			return kiosk.E(kiosk.KindDevice, op, err)
		}
		return nil
	})
	return sig, err
}

var _ crypto.Signer = (*ClientKey)(nil)
