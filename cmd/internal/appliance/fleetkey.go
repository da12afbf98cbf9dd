package appliance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/atomicfile"
	"passkiosk/kiosk/config"
	"passkiosk/store/fleet"
	"passkiosk/tpm"
)

// A fleet terminal's client key is either a PEM file or, made by
// `passkioskctl fleet key`, a key in this terminal's TPM whose file
// (fleetKeyFile in the state directory) holds only the TPM's blobs.
// [fleet] key names either; the appliance tells them apart by content.

// fleetKeyFile is where `passkioskctl fleet key` keeps the TPM's key.
const fleetKeyFile = "fleet-terminal.tpmkey"

// FleetKey makes a new TPM-held fleet key for terminal name, keeps its
// file (root-only) and returns its certificate request.
func (t *tpmAdmin) FleetKey(ctx context.Context, name string, replace bool) (admin.FleetKey, error) {
	const op = "fleet key"
	if err := fleet.ValidTerminalName(name); err != nil {
		return admin.FleetKey{}, kiosk.E(kiosk.KindMalformed, op, err)
	}
	if _, err := os.Stat(t.fleetKey); err == nil && !replace {
		return admin.FleetKey{}, kiosk.Errorf(kiosk.KindConflict, op,
			"%s exists: this terminal has a fleet key; --replace makes a new one, and the certificate of the old one stops working here", t.fleetKey)
	}
	key, err := t.k.NewClientKey(ctx)
	if err != nil {
		return admin.FleetKey{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return admin.FleetKey{}, kiosk.E(kiosk.KindDevice, op, err)
	}
	b, err := key.Marshal()
	if err != nil {
		return admin.FleetKey{}, err
	}
	if err := atomicfile.Write(t.fleetKey, b, 0o600); err != nil {
		return admin.FleetKey{}, kiosk.E(kiosk.KindDevice, op, err)
	}
	return admin.FleetKey{Path: t.fleetKey, Request: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})),
		Fingerprint: keyFingerprint(key.Public())}, nil
}

// keyFingerprint is the SHA-256 of a public key's SubjectPublicKeyInfo.
func keyFingerprint(pub crypto.PublicKey) string {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:])
}

// fleetClientConfig is the terminal's etcd client configuration with its
// key from a PEM file, or from the TPM when the file is a TPM key.
func fleetClientConfig(f config.Fleet, k *tpm.TPM) (clientv3.Config, error) {
	b, err := os.ReadFile(f.Key)
	if err != nil {
		return clientv3.Config{}, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		clear(b)
		return fleet.ClientConfig(f.Endpoints, f.Certificate, f.Key, f.CA)
	}
	if k == nil {
		return clientv3.Config{}, errors.New(f.Key + " is a key in a TPM, and this terminal has no usable TPM")
	}
	key, err := k.LoadClientKey(b)
	if err != nil {
		return clientv3.Config{}, fmt.Errorf("%s: %w", f.Key, err)
	}
	return fleet.ClientConfigSigner(f.Endpoints, f.Certificate, key, f.CA)
}
