package fleettest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CA is a test certificate authority: it signs the members' server
// certificates and the clients' certificates, whose common name etcd
// takes as the user (--client-cert-auth).
type CA struct {
	t    testing.TB
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate, PEM; CRL its revocation list, which
	// the members read at every client's TLS handshake.
	File    string
	CRL     string
	next    int64
	serials map[string]*big.Int
	revoked []x509.RevocationListEntry
}

func newCA(t testing.TB, dir string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "passkiosk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{t: t, dir: dir, cert: cert, key: key, File: filepath.Join(dir, "ca.crt"), CRL: filepath.Join(dir, "crl.der"),
		next: 2, serials: map[string]*big.Int{}}
	writePEM(t, ca.File, "CERTIFICATE", der)
	ca.writeCRL()
	return ca
}

// Revoke adds the certificate issued last for name to the CRL. The
// members refuse its next handshake; a connection already open stays
// until it is closed (a member restarted).
func (ca *CA) Revoke(name string) {
	ca.t.Helper()
	serial, ok := ca.serials[name]
	if !ok {
		ca.t.Fatalf("no certificate issued for %q", name)
	}
	ca.revoked = append(ca.revoked, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: time.Now()})
	ca.writeCRL()
}

func (ca *CA) writeCRL() {
	ca.t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(int64(len(ca.revoked) + 1)),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(24 * time.Hour), RevokedCertificateEntries: ca.revoked},
		ca.cert, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	// etcd parses the file as DER (x509.ParseRevocationList), not PEM.
	if err := os.WriteFile(ca.CRL, der, 0o600); err != nil {
		ca.t.Fatal(err)
	}
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Issue signs a certificate for name (its common name) and returns the
// certificate and key files. Server certificates are for 127.0.0.1.
func (ca *CA) Issue(name string, server bool) (certFile, keyFile string) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	ca.next++
	ca.serials[name] = big.NewInt(ca.next)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.next), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	certFile = filepath.Join(ca.dir, name+".crt")
	keyFile = filepath.Join(ca.dir, name+".key")
	writePEM(ca.t, certFile, "CERTIFICATE", der)
	writePEM(ca.t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

// ClientAs is an etcd client on every endpoint authenticated by a client
// certificate with common name name (a cluster started with TLS only).
func (c *Cluster) ClientAs(name string) *clientv3.Client {
	c.t.Helper()
	certFile, keyFile := c.CA.Issue(name, false)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.CA.cert)
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}
