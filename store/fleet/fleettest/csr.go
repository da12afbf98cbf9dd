package fleettest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"time"
)

// SignRequest is what the fleet's CA does with a terminal's PEM
// certificate request (a key made in its TPM): a client certificate for
// the request's common name, in a file.
func (ca *CA) SignRequest(csrPEM []byte) (certFile string) {
	ca.t.Helper()
	blk, _ := pem.Decode(csrPEM)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		ca.t.Fatalf("not a PEM certificate request: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		ca.t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		ca.t.Fatalf("the request's signature: %v", err)
	}
	name := csr.Subject.CommonName
	ca.next++
	ca.serials[name] = big.NewInt(ca.next)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.next), Subject: csr.Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	certFile = filepath.Join(ca.dir, name+".crt")
	writePEM(ca.t, certFile, "CERTIFICATE", der)
	return certFile
}
