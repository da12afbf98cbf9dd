package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/fido/softkey/internal/pinproto"
	"passkiosk/kiosk"
	"passkiosk/kiosk/atomicfile"
)

// stateVersion is the layout of the state file; bump it with any change.
const stateVersion = 1

// state is what a key keeps across power cycles: the part a real key holds
// in flash. It is encoded as canonical CBOR with integer keys.
type state struct {
	Version    int          `cbor:"1,keyasint"`
	AAGUID     []byte       `cbor:"2,keyasint"`
	PINHash    []byte       `cbor:"3,keyasint,omitempty"` // LEFT(SHA-256(PIN), 16)
	PINRetries int          `cbor:"4,keyasint"`
	UVRetries  int          `cbor:"5,keyasint"`
	Counter    uint32       `cbor:"6,keyasint"`
	Creds      []storedCred `cbor:"7,keyasint"`
	AttKey     []byte       `cbor:"8,keyasint"` // PKCS #8
	AttCert    []byte       `cbor:"9,keyasint"`
	RootCert   []byte       `cbor:"10,keyasint"`

	att *attestation
}

// storedCred is one credential with its private key.
type storedCred struct {
	ID           []byte `cbor:"1,keyasint"`
	RPID         string `cbor:"2,keyasint"`
	UserID       []byte `cbor:"3,keyasint,omitempty"`
	UserName     string `cbor:"4,keyasint,omitempty"`
	DisplayName  string `cbor:"5,keyasint,omitempty"`
	Discoverable bool   `cbor:"6,keyasint"`
	CredProtect  int    `cbor:"7,keyasint"`
	PrivateKey   []byte `cbor:"8,keyasint"` // PKCS #8
	Created      int64  `cbor:"9,keyasint"`
	// Seq orders credentials by creation even within one second.
	Seq uint64 `cbor:"10,keyasint"`
	// CredRandom is CredRandomWithUV ‖ CredRandomWithoutUV for
	// hmac-secret, or empty.
	CredRandom []byte `cbor:"11,keyasint,omitempty"`
}

func (c *storedCred) signer() (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("credential key is not ECDSA")
	}
	return ec, nil
}

func loadOrCreate(cfg Config) (*state, error) {
	if cfg.StatePath != "" {
		b, err := os.ReadFile(cfg.StatePath)
		switch {
		case err == nil:
			return decodeState(cfg, b)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, kiosk.E(kiosk.KindStoreCorrupt, errOp, fmt.Errorf("reading state: %w", err))
		}
	}
	st, err := freshState(cfg.AAGUID)
	if err != nil {
		return nil, err
	}
	if cfg.PIN != "" {
		if err := checkPINPolicy([]byte(cfg.PIN)); err != nil {
			return nil, kiosk.E(kiosk.KindPINPolicy, errOp, fmt.Errorf("preset PIN: %w", err))
		}
		st.PINHash = pinproto.PINHash([]byte(cfg.PIN))
	}
	if err := st.save(cfg.StatePath); err != nil {
		return nil, err
	}
	return st, nil
}

func freshState(aaguid fido.AAGUID) (*state, error) {
	att, err := newAttestation(aaguid)
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, errOp, err)
	}
	attKey, err := x509.MarshalPKCS8PrivateKey(att.key)
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, errOp, err)
	}
	return &state{
		Version:    stateVersion,
		AAGUID:     aaguid[:],
		PINRetries: maxPINRetries,
		UVRetries:  maxUVRetries,
		AttKey:     attKey,
		AttCert:    att.leaf.Raw,
		RootCert:   att.root.Raw,
		att:        att,
	}, nil
}

func decodeState(cfg Config, b []byte) (*state, error) {
	corrupt := func(format string, args ...any) error {
		return kiosk.Errorf(kiosk.KindStoreCorrupt, errOp, "state file %s is corrupt: "+format,
			append([]any{cfg.StatePath}, args...)...)
	}
	var st state
	if err := cbor.Unmarshal(b, &st); err != nil {
		return nil, corrupt("%v", err)
	}
	if st.Version != stateVersion {
		return nil, corrupt("layout version %d, want %d", st.Version, stateVersion)
	}
	if !bytes.Equal(st.AAGUID, cfg.AAGUID[:]) {
		return nil, kiosk.Errorf(kiosk.KindPolicy, errOp, "state file %s belongs to a key with AAGUID %x, not %s",
			cfg.StatePath, st.AAGUID, cfg.AAGUID)
	}
	if st.PINRetries < 0 || st.PINRetries > maxPINRetries || st.UVRetries < 0 || st.UVRetries > maxUVRetries ||
		(len(st.PINHash) != 0 && len(st.PINHash) != 16) {
		return nil, corrupt("retry counters or PIN hash out of range")
	}
	root, err1 := x509.ParseCertificate(st.RootCert)
	leaf, err2 := x509.ParseCertificate(st.AttCert)
	key, err3 := x509.ParsePKCS8PrivateKey(st.AttKey)
	ec, ok := key.(*ecdsa.PrivateKey)
	if err := errors.Join(err1, err2, err3); err != nil || !ok {
		return nil, corrupt("attestation identity: %v", err)
	}
	for i := range st.Creds {
		c := &st.Creds[i]
		if len(c.ID) == 0 || len(c.ID) > maxCredentialIDLen || c.RPID == "" {
			return nil, corrupt("credential %d has no ID or RP ID", i)
		}
		if len(c.CredRandom) != 0 && len(c.CredRandom) != credRandomLen {
			return nil, corrupt("credential %d hmac-secret of %d bytes", i, len(c.CredRandom))
		}
		if _, err := c.signer(); err != nil {
			return nil, corrupt("credential %d key: %v", i, err)
		}
	}
	st.att = &attestation{root: root, leaf: leaf, key: ec}
	return &st, nil
}

// save writes the state atomically: a temporary file in the same
// directory, fsynced, renamed over the old one. A crash leaves the old or
// the new state, never a mix. With no path it does nothing.
func (st *state) save(path string) error {
	if path == "" {
		return nil
	}
	b, err := cbor.Marshal(st)
	if err != nil {
		return kiosk.E(kiosk.KindDevice, errOp, fmt.Errorf("encoding state: %w", err))
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return kiosk.E(kiosk.KindDevice, errOp, fmt.Errorf("writing state %s: %w", path, err))
	}
	return nil
}

// saveLocked persists the state; handlers call it after every change that
// must survive a power cycle, before they answer.
func (k *Key) saveLocked() error {
	return k.st.save(k.cfg.StatePath)
}
