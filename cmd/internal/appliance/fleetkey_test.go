package appliance

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// `passkioskctl fleet key` makes the terminal's fleet key in its TPM and
// a certificate request; with the fleet CA's certificate for it, the
// terminal reaches the cluster over mTLS, the key never out of the TPM.
// A key file is not overwritten without --replace, a certificate of
// another key is refused before any connection, and a TPM key on a
// terminal without a TPM is named as such.
func TestATPMFleetKeyReachesTheCluster(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	tr := tpmtest.Simulator(t)
	k := tpmtest.Open(t, tr, tpm.Config{})
	ta := &tpmAdmin{k: k, fleetKey: filepath.Join(t.TempDir(), fleetKeyFile)}
	ctx := context.Background()

	if _, err := ta.FleetKey(ctx, "ward 8", false); kiosk.KindOf(err) != kiosk.KindMalformed {
		t.Fatalf("a name with a space: %v", err)
	}
	fk, err := ta.FleetKey(ctx, "ward8", false)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fk.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, %v", fk.Path, fi, err)
	}
	if !strings.HasPrefix(fk.Request, "-----BEGIN CERTIFICATE REQUEST-----") || len(fk.Fingerprint) != 64 {
		t.Fatalf("request %q, fingerprint %q", fk.Request, fk.Fingerprint)
	}
	before, _ := os.ReadFile(fk.Path)
	if _, err := ta.FleetKey(ctx, "ward8", false); kiosk.KindOf(err) != kiosk.KindConflict {
		t.Fatalf("a second key without --replace: %v", err)
	}
	if after, _ := os.ReadFile(fk.Path); string(after) != string(before) {
		t.Fatal("the refused second key changed the file")
	}

	f := config.Fleet{Name: "ward8", Endpoints: c.Endpoints(), Certificate: c.CA.SignRequest([]byte(fk.Request)), Key: fk.Path, CA: c.CA.File}
	cc, err := fleetClientConfig(f, k)
	if err != nil {
		t.Fatal(err)
	}
	// One member: one connection, one handshake, done once the read
	// is answered, so that nothing signs in the TPM while its handles
	// are counted below (the simulator takes one command at a time).
	cc.Endpoints = cc.Endpoints[:1]
	cl, err := clientv3.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.Get(rctx, fleet.DirPrefix, clientv3.WithPrefix()); err != nil {
		t.Fatalf("the cluster over mTLS with the TPM's key: %v", err)
	}
	cl.Close()
	tpmtest.CheckNoHandles(t, tr)

	other, _ := c.CA.Issue("ward9", false)
	if _, err := fleetClientConfig(config.Fleet{Endpoints: f.Endpoints, Certificate: other, Key: fk.Path, CA: f.CA}, k); err == nil ||
		!strings.Contains(err.Error(), "not the certificate of this terminal's key") {
		t.Fatalf("another key's certificate: %v", err)
	}
	if _, err := fleetClientConfig(f, nil); err == nil || !strings.Contains(err.Error(), "no usable TPM") {
		t.Fatalf("a TPM key without a TPM: %v", err)
	}
	// A PEM key still works as before.
	cert, key := c.CA.Issue("ward10", false)
	if _, err := fleetClientConfig(config.Fleet{Endpoints: f.Endpoints, Certificate: cert, Key: key, CA: f.CA}, nil); err != nil {
		t.Fatalf("a PEM key: %v", err)
	}
}

// The deployed path: the running appliance (on a swtpm, which keeps its
// state across the restart) makes its fleet key through the real
// passkioskctl, the fleet's CA signs the request, and the appliance
// restarted with the key's file in [fleet] reaches the cluster: status
// says online.
func TestPasskioskctlFleetKeyThenTheApplianceJoins(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{TLS: true})
	sw := tpmtest.StartSwtpm(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "passkioskctl")
	if out, err := exec.Command("go", "build", "-o", bin, "passkiosk/cmd/passkioskctl").CombinedOutput(); err != nil {
		t.Fatalf("build passkioskctl: %v\n%s", err, out)
	}
	cfg := testConfig(dir)
	cfg.TPM.Transport, cfg.TPM.Socket = "swtpm", sw.Address()
	a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	req := filepath.Join(dir, "ward8.csr")
	out, code := ctl(t, bin, cfg.Admin.Socket, "fleet", "key", "ward8", "--out", req)
	if code != 0 || !strings.Contains(out, filepath.Join(dir, fleetKeyFile)) {
		a.Close()
		t.Fatalf("fleet key: exit %d\n%s", code, out)
	}
	a.Close()
	csr, err := os.ReadFile(req)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fleet = config.Fleet{Name: "ward8", Endpoints: c.Endpoints(), Certificate: c.CA.SignRequest(csr),
		Key: filepath.Join(dir, fleetKeyFile), CA: c.CA.File, OfflineMaxAge: "24h", RevokeEndsSession: "at-once"}
	a, err = Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, code = ctl(t, bin, cfg.Admin.Socket, "--json", "status")
		var st admin.Status
		if code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Fleet != nil && st.Fleet.Online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the appliance with its TPM's fleet key never came online: exit %d\n%s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
