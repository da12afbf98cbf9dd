package hidtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/fido/softkey"
)

// These tests are libfido2's own verdict on the virtual key: its command
// line tools make a credential and an assertion through the harness, with
// the PIN typed at their terminal prompt, and verify both.

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func writeLines(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runWithPIN(t *testing.T, b *Testbed, pin string, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, term, err := RunWithPIN(ctx, b.Command(ctx, name, args...), pin)
	return string(out), string(term), err
}

func TestLibfido2ToolsMakeAndVerifyCredentialAndAssertion(t *testing.T) {
	const pin = "4321"
	b := New(t)
	k, d := plugSoftkey(t, b, softkey.Config{PIN: pin})
	dir := t.TempDir()

	hash := make([]byte, 32)
	userID := make([]byte, 16)
	rand.Read(hash)
	rand.Read(userID)

	// fido2-cred -M: a discoverable credential with user verification.
	credIn := writeLines(t, dir, "cred.in", b64(hash), "kiosk.example", "alice", b64(userID))
	cred, term, err := runWithPIN(t, b, pin, "fido2-cred", "-M", "-r", "-v", "-i", credIn, d.Path(), "es256")
	if err != nil {
		t.Fatalf("fido2-cred -M: %v\nterminal: %s\nstdout: %s", err, term, cred)
	}
	if !strings.Contains(term, "PIN") || strings.Contains(term, pin) {
		t.Fatalf("expected a PIN prompt without the PIN echoed, terminal shows %q", term)
	}
	lines := strings.Split(strings.TrimSpace(cred), "\n")
	if len(lines) < 7 || lines[2] != "packed" {
		t.Fatalf("fido2-cred -M output is not a packed attestation with a certificate:\n%s", cred)
	}
	if got := len(k.Credentials()); got != 1 {
		t.Fatalf("key holds %d credentials after fido2-cred -M, want 1", got)
	}

	// fido2-cred -V checks the packed attestation signature and the UV bit,
	// and prints the credential's public key.
	pubPEM := filepath.Join(dir, "cred.pem")
	credOut := writeLines(t, dir, "cred.out", lines...)
	if out, err := b.Command(context.Background(), "fido2-cred", "-V", "-v", "-i", credOut, "-o", pubPEM, "es256").CombinedOutput(); err != nil {
		t.Fatalf("fido2-cred -V: %v\n%s", err, out)
	}
	pem, err := os.ReadFile(pubPEM)
	if err != nil || !bytes.Contains(pem, []byte("BEGIN PUBLIC KEY")) {
		t.Fatalf("fido2-cred -V wrote no public key: %v\n%s", err, pem)
	}
	credKey := filepath.Join(dir, "key.pem")
	// The output file holds the credential id, then the PEM key.
	if i := bytes.Index(pem, []byte("-----BEGIN")); i >= 0 {
		if err := os.WriteFile(credKey, pem[i:], 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// fido2-assert -G with the discoverable credential: user presence and
	// verification by PIN.
	counter := k.Counter()
	assertIn := writeLines(t, dir, "assert.in", b64(hash), "kiosk.example")
	assertion, term, err := runWithPIN(t, b, pin, "fido2-assert", "-G", "-r", "-p", "-v", "-i", assertIn, d.Path())
	if err != nil {
		t.Fatalf("fido2-assert -G: %v\nterminal: %s\nstdout: %s", err, term, assertion)
	}
	alines := strings.Split(strings.TrimSpace(assertion), "\n")
	if len(alines) < 5 || alines[4] != b64(userID) {
		t.Fatalf("fido2-assert -G did not return alice's user handle:\n%s", assertion)
	}
	if k.Counter() <= counter {
		t.Fatalf("signature counter %d did not move past %d", k.Counter(), counter)
	}

	// fido2-assert -V checks the signature with the key from fido2-cred -V,
	// and that UP and UV were signed.
	assertOut := writeLines(t, dir, "assert.out", alines[:4]...)
	if out, err := b.Command(context.Background(), "fido2-assert", "-V", "-p", "-v", "-i", assertOut, credKey, "es256").CombinedOutput(); err != nil {
		t.Fatalf("fido2-assert -V: %v\n%s", err, out)
	}

	// A tampered signature must not verify.
	sig, _ := base64.StdEncoding.DecodeString(alines[3])
	sig[len(sig)-1] ^= 1
	bad := writeLines(t, dir, "assert.bad", alines[0], alines[1], alines[2], b64(sig))
	if out, err := b.Command(context.Background(), "fido2-assert", "-V", "-i", bad, credKey, "es256").CombinedOutput(); err == nil {
		t.Fatalf("fido2-assert -V accepted a tampered signature:\n%s", out)
	}

	// A wrong PIN at the prompt costs one try, which the key reports.
	if out, term, err := runWithPIN(t, b, "0000", "fido2-assert", "-G", "-r", "-p", "-v", "-i", assertIn, d.Path()); err == nil {
		t.Fatalf("fido2-assert -G succeeded with a wrong PIN:\n%s\n%s", term, out)
	}
	if got := k.PINRetries(); got != 7 {
		t.Fatalf("PIN retries after one wrong PIN = %d, want 7", got)
	}
}
