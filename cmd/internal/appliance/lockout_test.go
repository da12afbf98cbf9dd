package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/store"
)

// ctl runs the real passkioskctl, built for this test, on the
// appliance's socket.
func ctl(t *testing.T, bin, sock string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--socket", sock}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// The appliance on the TPM simulator, told to allow the whole terminal 3
// wrong PINs: it takes over the simulator's empty lockout authorization
// (sealed in its database), applies the parameters and reads them back.
// Two people's typos then reach the TPM's limit anyway (three wrong PINs
// of one person are far below their own ten): the lock screen says PIN
// sign-in is paused for everyone, before anyone types a PIN; status is
// degraded with the reason and time left; passkioskctl tpm lockout shows
// counter, maximum, recovery and time left; passkioskctl tpm lockout
// reset clears it, audited with who; and PIN sign-in works again.
func TestTPMLockoutScreenStatusAndResetThroughPasskioskctl(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "passkioskctl")
	if out, err := exec.Command("go", "build", "-o", bin, "passkiosk/cmd/passkioskctl").CombinedOutput(); err != nil {
		t.Fatalf("build passkioskctl: %v\n%s", err, out)
	}
	cfg := testConfig(dir)
	cfg.TPM.MaxAuthFail, cfg.TPM.LockoutInterval = 3, 900
	db, err := store.Open(filepath.Join(dir, "passkiosk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, name := range []string{"alice", "bob"} {
		ch := store.Change{Actor: "test"}
		if err := db.PutUser(store.User{ID: []byte(name), Name: name, DisplayName: name, State: store.UserActive}, ch); err != nil {
			t.Fatal(err)
		}
		code, _, err := db.IssueEnrollmentCode([]byte(name), store.PurposeEnroll, time.Hour, ch)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	db.Close()

	a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if sealed, err := a.db.TPMLockoutAuth(); err != nil || len(sealed) == 0 {
		t.Fatalf("no sealed lockout authorization in the store: %v", err)
	}
	step := func(do func(), ok func(kiosk.View) bool) {
		t.Helper()
		do()
		if err := waitView(a, ok); err != nil {
			t.Fatal(err)
		}
	}
	prompt := func(p kiosk.Prompt) func(kiosk.View) bool { return func(v kiosk.View) bool { return v.Prompt == p } }
	for _, code := range codes {
		step(func() { a.eng.StartEnrollment(code) }, prompt(kiosk.PromptNewPIN))
		step(func() { a.eng.EnterPIN([]byte("135790")) }, prompt(kiosk.PromptEnrollDone))
		step(func() { a.eng.Cancel() }, prompt(kiosk.PromptTouchOrChoose))
	}

	out, code := ctl(t, bin, cfg.Admin.Socket, "tpm", "lockout")
	if code != 0 || !strings.Contains(out, "counter:    0 of 3") || !strings.Contains(out, "set by passkiosk") {
		t.Fatalf("tpm lockout before: exit %d\n%s", code, out)
	}

	// Alice types one wrong PIN, Bob two: the terminal's three.
	wrong := func(who string, n int) kiosk.View {
		step(func() { a.eng.TypeUserName(who) }, prompt(kiosk.PromptPIN))
		var v kiosk.View
		for i := 0; i < n; i++ {
			step(func() { a.eng.EnterPIN([]byte("000000")) }, func(v kiosk.View) bool {
				return v.Notice != nil && (v.Prompt == kiosk.PromptPIN || v.State == kiosk.StateLocked)
			})
			v = a.eng.View()
		}
		return v
	}
	if v := wrong("alice", 1); v.Notice.Code != kiosk.NoticeWrongPIN || v.Notice.Tries != 9 {
		t.Fatalf("alice's wrong PIN: %+v; want her own 9 tries, not the TPM's 2", v.Notice)
	}
	step(func() { a.eng.Cancel() }, prompt(kiosk.PromptTouchOrChoose))
	v := wrong("bob", 2)
	if v.State != kiosk.StateLocked || v.Notice.Code != kiosk.NoticePlatformLocked || v.Notice.Until.IsZero() {
		t.Fatalf("bob's second wrong PIN: %v %+v; want PIN sign-in paused with its end", v.State, v.Notice)
	}
	// Both of Bob's wrong PINs count against him, the one that used the
	// TPM's last try included; Alice's one against her.
	for who, want := range map[string]int{"alice": 1, "bob": 2} {
		if n, err := a.db.PINTriesOf([]byte(who)); err != nil || n.Count != want {
			t.Fatalf("%s's wrong PINs: %+v, %v; want %d", who, n, err, want)
		}
	}
	// Alice, whose PIN is right, is told before she types it.
	step(func() { a.eng.TypeUserName("alice") }, func(v kiosk.View) bool {
		return v.State == kiosk.StateLocked && v.Notice != nil && v.Notice.Code == kiosk.NoticePlatformLocked
	})

	out, code = ctl(t, bin, cfg.Admin.Socket, "status")
	if code != 0 || !strings.Contains(out, "health:    degraded") || !strings.Contains(out, "TPM lockout: PIN sign-in is paused") {
		t.Fatalf("status during the lockout: exit %d\n%s", code, out)
	}
	out, code = ctl(t, bin, cfg.Admin.Socket, "--json", "tpm", "lockout")
	var l admin.TPMLockout
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || !l.InLockout || l.Counter != 3 || l.Max != 3 || l.Interval != 900 || l.TimeLeft <= 0 || !l.Managed {
		t.Fatalf("tpm lockout during the lockout: exit %d %+v\n%s", code, l, out)
	}
	if out, code = ctl(t, bin, cfg.Admin.Socket, "tpm", "lockout", "reset"); code != 0 || !strings.Contains(out, "lockout:    no") {
		t.Fatalf("tpm lockout reset: exit %d\n%s", code, out)
	}
	var log bytes.Buffer
	if _, err := a.db.ExportJSONL(&log, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `"type":"tpm-lockout-reset"`) || !strings.Contains(log.String(), `"admin-uid":"`+strconv.Itoa(os.Getuid())+`"`) {
		t.Fatalf("the reset is not audited with who did it:\n%s", log.String())
	}
	out, _ = ctl(t, bin, cfg.Admin.Socket, "status")
	if !strings.Contains(out, "health:    ok") {
		t.Fatalf("status after the reset:\n%s", out)
	}
	step(func() { a.eng.TypeUserName("alice") }, prompt(kiosk.PromptPIN))
	step(func() { a.eng.EnterPIN([]byte("135790")) }, func(v kiosk.View) bool { return v.State == kiosk.StateInSession })
}

// An export through the real passkioskctl is signed by the terminal's TPM
// (its attestation key, on the simulator here); passkioskctl audit verify
// checks the signature away from the appliance and names the key that
// status shows; a header changed afterwards no longer verifies.
func TestExportSignedByTheTPMThroughPasskioskctl(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "passkioskctl")
	if out, err := exec.Command("go", "build", "-o", bin, "passkiosk/cmd/passkioskctl").CombinedOutput(); err != nil {
		t.Fatalf("build passkioskctl: %v\n%s", err, out)
	}
	cfg := testConfig(dir)
	a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	file := filepath.Join(dir, "export.jsonl")
	if out, code := ctl(t, bin, cfg.Admin.Socket, "audit", "export", "-o", file); code != 0 {
		t.Fatalf("export: %d %s", code, out)
	}
	status, code := ctl(t, bin, cfg.Admin.Socket, "status")
	m := regexp.MustCompile(`tpm key:\s+([0-9a-f]{64})`).FindStringSubmatch(status)
	if code != 0 || m == nil {
		t.Fatalf("status names no TPM key: %d %s", code, status)
	}
	out, code := ctl(t, bin, "/nonexistent/admin.sock", "audit", "verify", file)
	if code != 0 || !strings.Contains(out, "signed:   by the terminal's TPM key "+m[1]) {
		t.Fatalf("verify: %d %s", code, out)
	}
	t.Logf("passkioskctl audit verify:\n%s", out)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(b), `"terminal":"Test bay"`, `"terminal":"Other bay"`, 1)
	if forged == string(b) {
		t.Fatalf("no terminal in the header:\n%s", b)
	}
	if err := os.WriteFile(file, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := ctl(t, bin, "/nonexistent/admin.sock", "audit", "verify", file); code == 0 || !strings.Contains(out, "signature does not verify") {
		t.Fatalf("a changed header verified: %d %s", code, out)
	}
}

// passkioskctl users disable takes the person's tile off the lock screen
// at once.
func TestDisablingThroughPasskioskctlDropsTheTile(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "passkioskctl")
	if out, err := exec.Command("go", "build", "-o", bin, "passkiosk/cmd/passkioskctl").CombinedOutput(); err != nil {
		t.Fatalf("build passkioskctl: %v\n%s", err, out)
	}
	cfg := testConfig(dir)
	cfg.PolicyFile = ""
	db, err := store.Open(filepath.Join(dir, "passkiosk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := store.Change{Actor: "test"}
	if err := db.PutUser(store.User{ID: []byte("alice"), Name: "alice", DisplayName: "Alice", State: store.UserActive}, ch); err != nil {
		t.Fatal(err)
	}
	code, _, err := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, time.Hour, ch)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := enrollPlatform(a, code, "alice", false); err != nil {
		t.Fatal(err)
	}
	if v := a.eng.View(); len(v.Tiles) != 1 {
		t.Fatalf("tiles before: %+v", v.Tiles)
	}
	if out, code := ctl(t, bin, cfg.Admin.Socket, "users", "disable", "alice"); code != 0 {
		t.Fatalf("disable: %d %s", code, out)
	}
	if v := a.eng.View(); len(v.Tiles) != 0 {
		t.Fatalf("alice's tile is still on the lock screen: %+v", v.Tiles)
	}
}
