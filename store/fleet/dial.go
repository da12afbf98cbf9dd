package fleet

import (
	"crypto/tls"
	"crypto/x509"
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
	const op = "fleet client"
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, op, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return clientv3.Config{}, kiosk.E(kiosk.KindMalformed, op, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
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
