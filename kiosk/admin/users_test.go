package admin_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/store"
)

func TestUsersEditKeepsCredentialsAndChecksGroups(t *testing.T) {
	a := newAppliance(t)
	pol := filepath.Join(a.dir, "policy.toml")
	if err := os.WriteFile(pol, []byte(goodPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	a.ok("policy", "apply", pol, "--yes")

	// A typo in a group is refused, naming the groups the policy has.
	a.fails(admin.ExitInvalid, `policy version 1 names no group "nursse": the person would get the default rules; the policy's groups: nurses`,
		"users", "add", "alice", "--groups", "nursse")
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--groups", "nurses", "--json"))
	cred := a.addCredential(alice.ID, [16]byte{})

	a.fails(admin.ExitInvalid, `names no group "porters"`, "users", "edit", "alice", "--groups", "porters")
	r := a.ok("users", "edit", "alice", "--display-name", "Alice Moreau", "--groups", "porters", "--force", "--disable")
	if !strings.Contains(r.out, `changed alice: display name "Alice Moreau", groups porters, disabled; passkeys kept`) {
		t.Fatalf("edit: %s", r)
	}
	u, err := a.db.User(mustHex(t, alice.ID))
	if err != nil || u.DisplayName != "Alice Moreau" || u.State != store.UserDisabled || len(u.Groups) != 1 || u.Groups[0] != "porters" {
		t.Fatalf("alice after edit: %+v, %v", u, err)
	}
	creds := decode[[]admin.Credential](t, a.ok("credentials", "list", "alice", "--json"))
	if len(creds) != 1 || creds[0].ID != cred {
		t.Fatalf("credentials after edit: %+v", creds)
	}
	ev := lastAudit(t, a.db, kiosk.EventUserChanged)
	checkAdminAudit(t, ev)
	if ev.Detail["display-name"] != "Alice Moreau" || ev.Detail["groups"] != "porters" || ev.Detail["state"] != "disabled" || ev.UserName != "alice" {
		t.Fatalf("edit audited as %+v", ev)
	}
	edited := decode[admin.User](t, a.ok("users", "edit", alice.ID, "--enable", "--groups", "", "--json"))
	if edited.State != "active" || len(edited.Groups) != 0 {
		t.Fatalf("enable and clear groups: %+v", edited)
	}
	a.fails(admin.ExitUsage, "nothing to change", "users", "edit", "alice")
	a.fails(admin.ExitUsage, "--enable and --disable together", "users", "edit", "alice", "--enable", "--disable")
	a.fails(admin.ExitNotFound, `no user "zed"`, "users", "edit", "zed", "--enable")
}

func TestDestructiveCommandsWantConfirmation(t *testing.T) {
	a := newAppliance(t)
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--json"))
	cred := a.addCredential(alice.ID, [16]byte{})
	pol := filepath.Join(a.dir, "policy.toml")
	if err := os.WriteFile(pol, []byte(goodPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	// The tests' standard input is not a terminal: without --yes each
	// command refuses and changes nothing.
	for _, args := range [][]string{
		{"users", "remove", "alice"},
		{"credentials", "revoke", cred[:8]},
		{"policy", "apply", pol},
	} {
		a.fails(admin.ExitUsage, args[0]+" "+args[1]+" asks for confirmation and standard input is not a terminal: add --yes", args...)
	}
	if _, err := a.db.User(mustHex(t, alice.ID)); err != nil {
		t.Fatalf("alice went without confirmation: %v", err)
	}
	if creds, _ := a.db.CredentialsOf(mustHex(t, alice.ID)); len(creds) != 1 {
		t.Fatalf("the credential went without confirmation: %+v", creds)
	}
	if _, err := a.db.CurrentPolicy(); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Fatalf("a policy was applied without confirmation: %v", err)
	}
	// A dry run changes nothing and needs no confirmation.
	a.ok("policy", "apply", pol, "--dry-run")
}

func TestSessionsEndWithNoSessionFails(t *testing.T) {
	a := newAppliance(t)
	r := a.fails(admin.ExitNotFound, "no session is in progress at "+terminal, "sessions", "end")
	if r.out != "" {
		t.Fatalf("sessions end with no session printed %q", r.out)
	}
}

// onTerminal runs passkioskctl with a pseudo-terminal as its standard
// input, answering answer to its question.
func (a *appliance) onTerminal(answer string, args ...string) result {
	a.t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		a.t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptm.Close()
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		a.t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		a.t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		a.t.Fatal(err)
	}
	defer pts.Close()
	// The terminal's line discipline holds the answer until the command
	// reads its line.
	if _, err := ptm.Write([]byte(answer + "\n")); err != nil {
		a.t.Fatal(err)
	}
	cmd := exec.Command(ctlBin, append([]string{"--socket", a.sock}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, &out, &errb
	err = cmd.Run()
	r := result{out: out.String(), err: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatal(err)
	}
	return r
}

func TestConfirmationOnATerminal(t *testing.T) {
	a := newAppliance(t)
	alice := decode[admin.User](t, a.ok("users", "add", "alice", "--display-name", "Alice Nurse", "--json"))
	a.addCredential(alice.ID, [16]byte{})

	r := a.onTerminal("n", "users", "remove", "alice")
	if r.code != admin.ExitRefused || !strings.Contains(r.err, "Remove alice (Alice Nurse) with their 1 passkey(s) and 0 code(s)? This cannot be undone. [y/N]") ||
		!strings.Contains(r.err, "users remove: not confirmed; nothing was changed") {
		t.Fatalf("answered no: %s", r)
	}
	if _, err := a.db.User(mustHex(t, alice.ID)); err != nil {
		t.Fatalf("alice went though the answer was no: %v", err)
	}

	pol := filepath.Join(a.dir, "policy.toml")
	if err := os.WriteFile(pol, []byte(goodPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	r = a.onTerminal("y", "policy", "apply", pol)
	if r.code != 0 || !strings.Contains(r.err, `+ rp_id = "ward7.example.org"`) || !strings.Contains(r.err, "Apply this as the policy in force (replacing version 0)?") ||
		!strings.Contains(r.out, "applied as version 1") {
		t.Fatalf("apply confirmed on a terminal: %s", r)
	}

	r = a.onTerminal("yes", "users", "remove", "alice")
	if r.code != 0 || r.out != "removed alice\n" {
		t.Fatalf("answered yes: %s", r)
	}
}
