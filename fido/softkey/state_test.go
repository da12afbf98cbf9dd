package softkey_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
	"passkiosk/kiosk"
)

// TestStateRoundTrip: a key made from its state file is the same key: the
// PIN, the credentials, the counter and the attestation CA survive, and an
// old credential still signs for its relying party.
func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.state")
	r := newRig(t, softkey.Config{PIN: testPIN, StatePath: path})
	tok, err := r.c.PINToken(ctx(t), 2, testPIN, softkey.PermMakeCredential, testRP)
	if err != nil {
		t.Fatal(err)
	}
	reg := r.register(host.MakeCredentialArgs{RK: true, Token: tok, UserName: "kept"}, true)
	root := r.key.AttestationRoot()
	counter := r.key.Counter()
	r.conn.Unplug()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v", fi.Mode())
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}

	r2 := newRig(t, softkey.Config{StatePath: path, PIN: "ignored-for-existing-keys"})
	if !bytes.Equal(r2.key.AttestationRoot().Raw, root.Raw) || r2.key.Counter() != counter {
		t.Fatal("attestation CA or counter changed")
	}
	creds := r2.key.Credentials()
	if len(creds) != 1 || creds[0].UserName != "kept" || !creds[0].Discoverable {
		t.Fatalf("credentials %+v", creds)
	}
	tok, err = r2.c.PINToken(ctx(t), 1, testPIN, softkey.PermGetAssertion, testRP)
	if err != nil {
		t.Fatalf("old PIN after restart: %v", err)
	}
	if _, res, err := r2.assert(host.GetAssertionArgs{Token: tok}, stored(reg), true); err != nil || res.Counter <= counter {
		t.Fatalf("assertion after restart: %v", err)
	}
}

func TestCorruptStateIsAClearError(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"garbage":   []byte("this is not a key"),
		"truncated": nil,
		"wrong map": {0xa1, 0x01, 0x63, 'a', 'b', 'c'},
	} {
		path := filepath.Join(dir, name)
		if name == "truncated" {
			// A real state file cut in half.
			if _, err := softkey.New(softkey.Config{StatePath: path}); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			content = b[:len(b)/2]
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := softkey.New(softkey.Config{StatePath: path})
		if kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
			t.Errorf("%s: got %v, want a store-corrupt error", name, err)
		}
	}
	// A state file of another model is refused, not silently adopted.
	path := filepath.Join(dir, "model")
	if _, err := softkey.New(softkey.Config{StatePath: path}); err != nil {
		t.Fatal(err)
	}
	_, err := softkey.New(softkey.Config{StatePath: path, AAGUID: fido.AAGUID{1}})
	if kiosk.KindOf(err) != kiosk.KindPolicy {
		t.Fatalf("other AAGUID: %v", err)
	}
	_, err = softkey.New(softkey.Config{PIN: "12"})
	if kiosk.KindOf(err) != kiosk.KindPINPolicy {
		t.Fatalf("short preset PIN: %v", err)
	}
}
