package fleet

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"passkiosk/kiosk"
)

// Reconnect is how the client retries a member that went away: from
// 100 ms up to 2 s. gRPC's default grows to two minutes, which after an
// outage of a quarter of an hour would leave a terminal offline for up
// to two more minutes with the cluster long back.
var Reconnect = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
	MinConnectTimeout: 2 * time.Second,
})

// ClientConfig is a terminal's etcd client: every endpoint, its client
// certificate (its common name is its etcd user), the cluster's CA, and
// quick reconnects.
func ClientConfig(endpoints []string, certFile, keyFile, caFile string) (clientv3.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, "fleet client", err)
	}
	return clientConfig(endpoints, cert, caFile)
}

// ClientConfigSigner is ClientConfig with the private key held elsewhere
// (the terminal's TPM): key signs for the certificate in certFile.
func ClientConfigSigner(endpoints []string, certFile string, key crypto.Signer, caFile string) (clientv3.Config, error) {
	const op = "fleet client"
	b, err := os.ReadFile(certFile)
	if err != nil {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, op, err)
	}
	var cert tls.Certificate
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type == "CERTIFICATE" {
			cert.Certificate = append(cert.Certificate, blk.Bytes)
		}
	}
	if len(cert.Certificate) == 0 {
		return clientv3.Config{}, kiosk.Errorf(kiosk.KindMalformed, op, "%s holds no PEM certificate", certFile)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, op, err)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return clientv3.Config{}, kiosk.Errorf(kiosk.KindMalformed, op, "%s is not the certificate of this terminal's key (signed for another request?)", certFile)
	}
	cert.PrivateKey, cert.Leaf = key, leaf
	return clientConfig(endpoints, cert, caFile)
}

func clientConfig(endpoints []string, cert tls.Certificate, caFile string) (clientv3.Config, error) {
	const op = "fleet client"
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, op, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, op, fmt.Errorf("%s holds no PEM certificate", caFile))
	}
	return clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Keepalives find a member that vanished without closing its
		// connections (a cut cable) in seconds, not at TCP's pace.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		TLS:                  &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialOptions:          []grpc.DialOption{Reconnect},
	}, nil
}
