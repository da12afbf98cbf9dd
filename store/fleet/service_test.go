package fleet_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

// Terminals redeem codes through the fleet service over HTTPS with their
// client certificate; the service records the terminal from the
// certificate, not from what the request says.
func TestTerminalsRedeemThroughTheService(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	dir := &fleet.Directory{Client: c.Client()}
	ctx := context.Background()
	if _, err := dir.PutUser(ctx, person(1)); err != nil {
		t.Fatal(err)
	}
	code, err := dir.IssueCode(ctx, person(1).ID, store.PurposeEnroll, time.Hour, "it")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(c.CA.File)
	pool.AppendCertsFromPEM(pem)
	srv := httptest.NewUnstartedServer(fleet.Handler(dir, quiet))
	srvCert, srvKey := c.CA.Issue("fleetd", true)
	sc, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{sc}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	client := func(name string) *fleet.Service {
		cfg := &tls.Config{RootCAs: pool}
		if name != "" {
			cf, kf := c.CA.Issue(name, false)
			cc, err := tls.LoadX509KeyPair(cf, kf)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{cc}
		}
		return &fleet.Service{URL: srv.URL, HTTP: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
	}
	ward := client("ward7")
	got, err := ward.LookupCode(ctx, code)
	if err != nil || string(got.UserID) != string(person(1).ID) {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	used, rev, err := ward.Redeem(ctx, fleet.Redemption{Code: code, Terminal: "someone-else", Credential: key(7, 1)})
	if err != nil || rev == 0 || used.UsedTerminal != "ward7" {
		t.Fatalf("redeem: %+v at %d, %v; want used at ward7", used, rev, err)
	}
	if _, _, err := client("theatre2").Redeem(ctx, fleet.Redemption{Code: code, Credential: key(8, 1)}); kiosk.KindOf(err) != kiosk.KindChallenge {
		t.Fatalf("second redemption: %v, want a used-code refusal", err)
	}
	if _, err := client("").LookupCode(ctx, code); kiosk.KindOf(err) != kiosk.KindOffline {
		t.Fatalf("without a certificate: %v, want the TLS handshake refused", err)
	}
}
