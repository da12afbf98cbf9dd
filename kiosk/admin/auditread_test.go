package admin_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/auditfile"
	"passkiosk/store"
)

// A YubiKey 5 NFC's AAGUID (fa2b99dc-9e39-4257-8f92-4a30d23c4118).
var yubiKey5NFC = [16]byte{0xfa, 0x2b, 0x99, 0xdc, 0x9e, 0x39, 0x42, 0x57, 0x8f, 0x92, 0x4a, 0x30, 0xd2, 0x3c, 0x41, 0x18}

// shift is a person's sign-in with a security key and a session that
// they end, as the engine records them in the real store.
func (a *appliance) shift(user admin.User) (credHex string) {
	a.t.Helper()
	credHex = a.addCredential(user.ID, yubiKey5NFC)
	cred, _ := hex.DecodeString(credHex)
	uid := mustHex(a.t, user.ID)
	s, err := a.db.OpenSession(store.Session{UserID: uid, CredentialID: cred, Terminal: terminal, Workspace: "/run/passkiosk/s/1"})
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.db.EndSession(s.ID, kiosk.EndLogout, true, s.OpenedAt); err != nil {
		a.t.Fatal(err)
	}
	return credHex
}

func TestAuditReadsAsPeopleAndVerifiesOffline(t *testing.T) {
	a := newAppliance(t)
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--display-name", "Alice Moreau", "--json"))
	cred := a.shift(alice)
	aliceID := admin.ReadableUserID(alice.ID)

	r := a.ok("audit", "tail", "-n", "6")
	t.Logf("passkioskctl audit tail -n 6\n%s", r.out)
	checkAuditTable(t, r.out, "alice ("+aliceID+")")
	for _, want := range []string{"sign-in", "session-opened", "session-ended", "with YubiKey 5 NFC " + cred[:6], "cause=logout"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("tail does not say %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, hex.EncodeToString([]byte("alice"))) {
		t.Fatalf("tail shows a hex ID:\n%s", r.out)
	}
	// One entry per session end, with one cause.
	if n := strings.Count(r.out, "session-ended"); n != 1 || strings.Count(r.out, "cause=") != 1 {
		t.Fatalf("session end shown %d times:\n%s", n, r.out)
	}
	lines := decodeLines[admin.AuditEntry](t, a.ok("audit", "tail", "-n", "6", "--json"))
	for _, e := range lines {
		if e.UserID != "" && (e.User != "alice" || e.UserID != aliceID || e.Terminal != terminal) {
			t.Fatalf("--json entry does not name alice at %s: %+v", terminal, e)
		}
		if e.Type == "sign-in" && e.Credential != "YubiKey 5 NFC "+cred[:6] {
			t.Fatalf("sign-in credential %q", e.Credential)
		}
	}

	// Removing alice keeps her name in the entries written before.
	a.ok("users", "remove", "alice", "--yes")
	if r := a.ok("audit", "tail", "-n", "3"); !strings.Contains(r.out, "user-removed") || strings.Count(r.out, "alice ("+aliceID+")") < 3 {
		t.Fatalf("after removal:\n%s", r.out)
	}

	file := filepath.Join(a.dir, "audit.jsonl")
	a.ok("audit", "export", "-o", file)
	r = a.ok("audit", "verify", file)
	t.Logf("passkioskctl audit verify %s\n%s", file, r.out)
	if !strings.Contains(r.out, "intact, an unbroken piece of the audit chain") || !strings.Contains(r.out, "terminal: \""+terminal+"\"") || !strings.Contains(r.out, "at the beginning of the kept chain") {
		t.Fatalf("verify intact file: %s", r)
	}
	check := decode[auditfile.Check](t, a.ok("audit", "verify", file, "--json"))
	head := decode[admin.Status](t, a.ok("status", "--json"))
	if check.Last != head.AuditHead || check.LastHash != head.AuditHash || check.Header == nil || check.Header.Terminal != terminal {
		t.Fatalf("verify --json %+v; status head %d %s", check, head.AuditHead, head.AuditHash)
	}

	// Someone edits the exported file: the sign-in now names bob.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var edited []string
	seq := uint64(0)
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		if m["type"] == "sign-in" {
			m["user"] = "bob"
			seq = uint64(m["seq"].(float64))
			nb, _ := json.Marshal(m)
			l = string(nb)
		}
		edited = append(edited, l)
	}
	tampered := filepath.Join(a.dir, "tampered.jsonl")
	os.WriteFile(tampered, []byte(strings.Join(edited, "\n")+"\n"), 0o644)
	r = a.fails(admin.ExitFailed, fmt.Sprintf("does not verify: entry %d (line %d): user was edited", seq, seq+1), "audit", "verify", tampered)
	t.Logf("passkioskctl audit verify %s\nexit %d\n%s", tampered, r.code, r.err)
}
