package store_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

// exportedLog is a log with a person, their key, a sign-in and their
// removal, exported.
func exportedLog(t *testing.T) (*store.DB, []string) {
	t.Helper()
	db, _ := storetest.Open(t, nil)
	ch := store.Change{Actor: "root (uid 0, pid 1)", Terminal: "Ward 7"}
	if err := db.PutUser(storetest.User("alice"), ch); err != nil {
		t.Fatal(err)
	}
	cred := storetest.Roaming("key-1", "alice")
	cred.AAGUID = kiosk.AAGUID{0xfa, 0x2b, 0x99, 0xdc, 0x9e, 0x39, 0x42, 0x57, 0x8f, 0x92, 0x4a, 0x30, 0xd2, 0x3c, 0x41, 0x18}
	cred.Label = "Security key"
	if err := db.AddCredential(cred, ch); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.RecordSignIn(store.SignIn{CredentialID: cred.ID, Counter: 1, Terminal: "Ward 7"}); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveUser([]byte("alice"), ch); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := db.Export(&buf, 0, "Ward 7", storetest.Epoch, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if n != len(lines) || n < 5 {
		t.Fatalf("Export said %d lines, wrote %d:\n%s", n, len(lines), buf.String())
	}
	return db, lines
}

func TestExportNamesPeopleAndCredentials(t *testing.T) {
	db, lines := exportedLog(t)
	var h auditfile.Header
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil || h.Format != auditfile.Format || h.Terminal != "Ward 7" {
		t.Fatalf("header %s: %v", lines[0], err)
	}
	seq, hash, _ := db.AuditHead()
	if h.HeadSeq != seq || h.To != seq || h.Entries != uint64(len(lines)-1) {
		t.Fatalf("header %+v; head %d", h, seq)
	}
	var last auditfile.Entry
	for _, l := range lines[1:] {
		var x auditfile.Entry
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatal(err)
		}
		if x.Type == kiosk.EventSignIn.String() && (x.User != "alice" || x.UserID != "alice" || x.Credential != "YubiKey 5 NFC 6b6579") {
			t.Errorf("sign-in names %q (%q) with %q, want alice (alice) with YubiKey 5 NFC 6b6579", x.User, x.UserID, x.Credential)
		}
		last = x
	}
	// The removal still names the person, from the transaction that
	// removed them.
	if last.Type != kiosk.EventUserRemoved.String() || last.User != "alice" || !strings.HasSuffix(last.Time, "Z") {
		t.Errorf("last entry %+v", last)
	}
	if last.Hash != h.HeadHash || len(hash) != 32 {
		t.Errorf("last hash %s, header head %s", last.Hash, h.HeadHash)
	}
	c, err := auditfile.Verify(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil || !c.StartsChain || c.Entries != len(lines)-1 || c.Last != seq {
		t.Fatalf("verify intact export: %+v, %v", c, err)
	}
}

func TestVerifyExportNamesTheFirstBadEntry(t *testing.T) {
	_, lines := exportedLog(t)
	edit := func(i int, f func(m map[string]any)) []string {
		out := append([]string(nil), lines...)
		var m map[string]any
		if err := json.Unmarshal([]byte(out[i]), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		out[i] = string(b)
		return out
	}
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"readable field edited", edit(3, func(m map[string]any) { m["user"] = "mallory" }), "entry 3 (line 4): user was edited"},
		{"body edited", edit(2, func(m map[string]any) {
			b := []byte(m["body"].(string))
			b[len(b)-6] ^= 1
			m["body"] = string(b)
		}), "entry 2 (line 3)"},
		{"entry deleted", append(append([]string{}, lines[:2]...), lines[3:]...), "entry 3 (line 3): entry 2 is missing"},
		{"end cut off", lines[:len(lines)-1], "the header counts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auditfile.Verify(strings.NewReader(strings.Join(tc.lines, "\n") + "\n"))
			mustKind(t, err, kiosk.KindStoreCorrupt)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// A signed header verifies with its key and names it; a header changed
// after signing (another terminal's name, another head) does not.
func TestSignedExportHeader(t *testing.T) {
	db, _ := exportedLog(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(h *auditfile.Header) error {
		return auditfile.Sign(h, func(st []byte) ([]byte, *ecdsa.PublicKey, error) {
			d := sha256.Sum256(st)
			sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
			return sig, &key.PublicKey, err
		})
	}
	var buf bytes.Buffer
	if _, err := db.Export(&buf, 0, "Ward 7", storetest.Epoch, sign); err != nil {
		t.Fatal(err)
	}
	c, err := auditfile.Verify(bytes.NewReader(buf.Bytes()))
	if err != nil || c.SignedBy != auditfile.KeyFingerprint(&key.PublicKey) {
		t.Fatalf("signed export: %+v, %v", c, err)
	}
	lines := strings.SplitN(buf.String(), "\n", 2)
	for _, edit := range []func(m map[string]any){
		func(m map[string]any) { m["terminal"] = "Ward 8" },
		func(m map[string]any) { m["head_hash"] = strings.Repeat("0", 64) },
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		_, err := auditfile.Verify(strings.NewReader(string(b) + "\n" + lines[1]))
		mustKind(t, err, kiosk.KindStoreCorrupt)
		if !strings.Contains(err.Error(), "signature does not verify") {
			t.Fatalf("a changed header: %v", err)
		}
	}
}
