package softkey_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/fido/hidtest"
	"passkiosk/fido/softkey"
)

// These tests put the parts of the key that the appliance's own flows do
// not reach in front of the real libfido2, through the umockdev harness:
// setting and changing the PIN, hmac-secret, and reset. The main flows
// (fido2-token -I, fido2-cred -M/-V, fido2-assert -G/-V) are in
// fido/hidtest and fido/usbkey.

func plugged(t *testing.T, cfg softkey.Config) (*hidtest.Testbed, *softkey.Key, string) {
	t.Helper()
	b := hidtest.New(t)
	k, err := softkey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Plug(k.Plug(), hidtest.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	return b, k, d.Path()
}

// tool runs a libfido2 tool against the testbed, answering PIN prompts.
// An argument "IN" is replaced by a file holding input.
func tool(t *testing.T, b *hidtest.Testbed, pin, input string, args ...string) string {
	t.Helper()
	out, term, err := runTool(t, b, []string{pin}, input, args...)
	if err != nil {
		t.Fatalf("%s: %v\nterminal: %s\nstdout: %s", strings.Join(args, " "), err, term, out)
	}
	return out
}

// runTool is tool answering successive PIN prompts with pins in turn
// (hidtest.RunWithPINs), and returning the tool's failure.
func runTool(t *testing.T, b *hidtest.Testbed, pins []string, input string, args ...string) (stdout, terminal string, err error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string(nil), args...)
	for i, a := range args {
		if a == "IN" {
			args[i] = filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(args[i], []byte(input), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := b.Command(c, args[0], args[1:]...)
	out, term, err := hidtest.RunWithPINs(c, cmd, pins...)
	return string(out), string(term), err
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestLibfido2SetsAndChangesThePIN(t *testing.T) {
	b, k, dev := plugged(t, softkey.Config{})
	tool(t, b, testPIN, "", "fido2-token", "-S", dev)
	if !k.PINSet() {
		t.Fatal("fido2-token -S did not set a PIN")
	}
	// fido2-token -C asks for the current PIN, the new one, and the new
	// one again.
	const newPIN = "271828"
	if _, term, err := runTool(t, b, []string{testPIN, newPIN}, "", "fido2-token", "-C", dev); err != nil {
		t.Fatalf("fido2-token -C: %v\nterminal: %s", err, term)
	}
	if k.PINRetries() != 8 {
		t.Fatalf("retries %d after changing the PIN", k.PINRetries())
	}
	// The old PIN no longer verifies the person: making a credential with
	// user verification fails as a wrong PIN and costs a try...
	makeCred := func(pin string) (string, error) {
		in := strings.Join([]string{b64(random(32)), testRP, "dave", b64(random(16))}, "\n") + "\n"
		_, term, err := runTool(t, b, []string{pin}, in, "fido2-cred", "-M", "-r", "-v", "-i", "IN", dev, "es256")
		return term, err
	}
	if term, err := makeCred(testPIN); err == nil || !strings.Contains(term, "FIDO_ERR_PIN_INVALID") {
		t.Fatalf("fido2-cred -M -v with the old PIN: %v\nterminal: %s", err, term)
	}
	if k.PINRetries() != 7 || len(k.Credentials()) != 0 {
		t.Fatalf("after the old PIN: retries %d, %d credentials; want 7, 0", k.PINRetries(), len(k.Credentials()))
	}
	// ...and the new one does, which resets the count.
	if term, err := makeCred(newPIN); err != nil {
		t.Fatalf("fido2-cred -M -v with the new PIN: %v\nterminal: %s", err, term)
	}
	if k.PINRetries() != 8 || len(k.Credentials()) != 1 {
		t.Fatalf("after the new PIN: retries %d, %d credentials; want 8, 1", k.PINRetries(), len(k.Credentials()))
	}
	info := tool(t, b, "", "", "fido2-token", "-I", dev)
	if !strings.Contains(info, "clientPin") || !strings.Contains(info, "hmac-secret") || !strings.Contains(info, "pin protocols: 2, 1") {
		t.Fatalf("fido2-token -I:\n%s", info)
	}
}

// TestLibfido2HMACSecret: fido2-cred -h makes a credential with the
// extension; fido2-assert -h gets the same secret twice for the same salt
// and a different one for another salt; both verify.
func TestLibfido2HMACSecret(t *testing.T) {
	b, _, dev := plugged(t, softkey.Config{})
	cred := tool(t, b, "", strings.Join([]string{b64(random(32)), testRP, "alice", b64(random(16))}, "\n")+"\n",
		"fido2-cred", "-M", "-h", "-i", "IN", dev, "es256")
	lines := strings.Split(strings.TrimSpace(cred), "\n")
	if len(lines) < 6 {
		t.Fatalf("fido2-cred -M -h output:\n%s", cred)
	}
	credID := lines[4]
	verified := tool(t, b, "", cred, "fido2-cred", "-V", "-h", "-i", "IN", "es256")
	pub := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(pub, []byte(verified[strings.Index(verified, "-----BEGIN"):]), 0o600); err != nil {
		t.Fatal(err)
	}
	salt := b64(random(32))
	get := func(salt string) string {
		out := tool(t, b, "", strings.Join([]string{b64(random(32)), testRP, credID, salt}, "\n")+"\n",
			"fido2-assert", "-G", "-h", "-i", "IN", dev)
		tool(t, b, "", out, "fido2-assert", "-V", "-h", "-i", "IN", pub, "es256")
		l := strings.Split(strings.TrimSpace(out), "\n")
		return l[len(l)-1]
	}
	first, again, other := get(salt), get(salt), get(b64(random(32)))
	if first != again || first == other || len(first) < 40 {
		t.Fatalf("hmac-secret outputs %q %q %q", first, again, other)
	}
}

func TestLibfido2Reset(t *testing.T) {
	b, k, dev := plugged(t, softkey.Config{PIN: testPIN})
	tool(t, b, testPIN, strings.Join([]string{b64(random(32)), testRP, "bob", b64(random(16))}, "\n")+"\n",
		"fido2-cred", "-M", "-r", "-i", "IN", dev, "es256")
	if len(k.Credentials()) != 1 {
		t.Fatal("no credential to reset")
	}
	tool(t, b, "", "", "fido2-token", "-R", dev)
	if k.PINSet() || len(k.Credentials()) != 0 {
		t.Fatal("fido2-token -R left the PIN or credentials")
	}
}

// TestLibfido2ProtocolOne: a key that offers only PIN/UV auth protocol 1
// makes libfido2 take its protocol 1 path for the PIN token, and the
// discoverable credential and assertion it makes verify.
func TestLibfido2ProtocolOne(t *testing.T) {
	b, k, dev := plugged(t, softkey.Config{PIN: testPIN, PINProtocols: []int{1}})
	info := tool(t, b, "", "", "fido2-token", "-I", dev)
	if !strings.Contains(info, "pin protocols: 1\n") {
		t.Fatalf("fido2-token -I:\n%s", info)
	}
	cred := tool(t, b, testPIN, strings.Join([]string{b64(random(32)), testRP, "carol", b64(random(16))}, "\n")+"\n",
		"fido2-cred", "-M", "-r", "-v", "-i", "IN", dev, "es256")
	verified := tool(t, b, "", cred, "fido2-cred", "-V", "-v", "-i", "IN", "es256")
	pub := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(pub, []byte(verified[strings.Index(verified, "-----BEGIN"):]), 0o600); err != nil {
		t.Fatal(err)
	}
	out := tool(t, b, testPIN, strings.Join([]string{b64(random(32)), testRP}, "\n")+"\n",
		"fido2-assert", "-G", "-r", "-v", "-i", "IN", dev)
	tool(t, b, "", out, "fido2-assert", "-V", "-v", "-i", "IN", pub, "es256")
	if k.PINRetries() != 8 || len(k.Credentials()) != 1 {
		t.Fatalf("retries %d, %d credentials", k.PINRetries(), len(k.Credentials()))
	}
}
