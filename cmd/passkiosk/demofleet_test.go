//go:build !nodemo

package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/cmd/internal/appliance"
	"passkiosk/kiosk"
)

// clusterProgram is passkiosk-demo-cluster running with its console on
// a pipe, as make demo-fleet runs it, but without --run: the test starts
// the terminals itself.
type clusterProgram struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan error
}

// startDemoCluster builds passkioskctl and passkiosk-demo-cluster and
// runs the cluster in dir/fleet; it returns once the program says ready,
// with each person's enrollment code.
func startDemoCluster(t *testing.T, dir string) (*clusterProgram, map[string]string) {
	t.Helper()
	for _, pkg := range []string{"passkiosk/cmd/passkioskctl", "passkiosk/cmd/passkiosk-demo-cluster"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(pkg)), pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	p := &clusterProgram{lines: make(chan string, 256), done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(dir, "passkiosk-demo-cluster"), "--ctl", filepath.Join(dir, "passkioskctl"), "--dir", filepath.Join(dir, "fleet"))
	p.cmd.Stderr = os.Stderr
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	codes := map[string]string{}
	for {
		line := p.next(t, 90*time.Second)
		if f := strings.Fields(line); len(f) == 3 && (f[0] == "Alice" || f[0] == "Bob") {
			codes[f[0]] = f[2]
		}
		if strings.HasPrefix(line, "ready: ") {
			return p, codes
		}
	}
}

// next is the program's next line of output, within wait.
func (p *clusterProgram) next(t *testing.T, wait time.Duration) string {
	t.Helper()
	select {
	case l := <-p.lines:
		t.Logf("demo cluster: %s", l)
		return l
	case err := <-p.done:
		t.Fatalf("the demo cluster exited: %v", err)
	case <-time.After(wait):
		t.Fatalf("the demo cluster said nothing for %s", wait)
	}
	return ""
}

// stop closes the console: without an appliance of its own the program
// then stops its members and service and exits.
func (p *clusterProgram) stop(t *testing.T) {
	t.Helper()
	p.in.Close()
	for {
		select {
		case <-p.lines:
		case err := <-p.done:
			if err != nil {
				t.Errorf("the demo cluster exited with %v", err)
			}
			return
		case <-time.After(30 * time.Second):
			t.Fatal("the demo cluster did not exit within 30 s of its console closing")
		}
	}
}

// waitView polls a terminal's engine until its View satisfies ok.
func waitView(t *testing.T, a *appliance.Appliance, what string, ok func(kiosk.View) bool) kiosk.View {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := a.Engine().View()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %s; its view: state %s prompt %s notice %+v", a.Config().Terminal, what, v.State, v.Prompt, v.Notice)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The demo fleet end to end, as make demo-fleet runs it but without its
// windows: the cluster program (three etcd members, the fleet service,
// two terminals joined with passkioskctl), and both terminals' daemon
// halves with their swtpms and the one virtual key. Alice enrolls the
// key at Ward 3A with her code, carries it to Ward 3B and signs in
// there from 3B's mirror; IT revokes her key at the console; 3B ends her
// session and refuses the key.
func TestDemoFleetEnrollAtOneSignInAtTheOtherRevokeRefused(t *testing.T) {
	needRoot(t)
	dir, err := os.MkdirTemp("", "passkiosk-demo-fleet-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil { // the session account passes through to the workspaces
		t.Fatal(err)
	}
	cluster, codes := startDemoCluster(t, dir)
	if codes["Alice"] == "" {
		t.Fatal("the demo cluster printed no code for Alice")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := startDemoFleet(ctx, filepath.Join(dir, "fleet"), log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if len(f.terminals) != 2 {
		t.Fatalf("%d terminals, want 2", len(f.terminals))
	}
	ws := f.windows(log)
	a, b := f.terminals[0].app, f.terminals[1].app
	keyA, keyB := ws[0].demo, ws[1].demo
	if ws[0].title != "passkiosk — Ward 3A" || ws[1].title != "passkiosk — Ward 3B" {
		t.Errorf("window titles %q %q", ws[0].title, ws[1].title)
	}

	enrollAt(t, a, keyA, codes["Alice"])
	waitMirrored(t, b, "alice")

	// The key moves: plugged in at 3B it leaves 3A, and 3B signs her in
	// with its fingerprint.
	keyB.Plug()
	if keyA.Plugged() || !keyB.Plugged() {
		t.Fatalf("after plugging in at 3B: at 3A %v, at 3B %v", keyA.Plugged(), keyB.Plugged())
	}
	waitView(t, b, "Alice's session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession })

	start := time.Now()
	if _, err := io.WriteString(cluster.in, "revoke alice\n"); err != nil {
		t.Fatal(err)
	}
	if l := cluster.next(t, 15*time.Second); !strings.HasPrefix(l, "revoked 1 security key(s) of Alice Moreau") {
		t.Fatalf("the console answered %q", l)
	}
	waitView(t, b, "the session ended as revoked", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Code == kiosk.NoticeSessionEnded && v.Notice.Cause == kiosk.EndRevoked
	})
	t.Logf("revocation typed at the console to Ward 3B's session ended: %s", time.Since(start))

	b.Engine().UseKey()
	waitView(t, b, "the key refused", func(v kiosk.View) bool {
		return v.State == kiosk.StateLocked && v.Notice != nil && v.Notice.Code == kiosk.NoticeUnknownKey
	})
	cluster.stop(t)
}

// enrollAt enrolls the virtual key at terminal a with code, by
// fingerprint, and leaves a on its lock screen with the key still in.
func enrollAt(t *testing.T, a *appliance.Appliance, key interface{ Plug() }, code string) {
	t.Helper()
	eng := a.Engine()
	eng.StartEnrollment(code)
	waitView(t, a, "the choice of where the passkey goes", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptEnrollChoose })
	eng.ChooseAttachment(kiosk.AttachRoaming)
	waitView(t, a, "insert the key", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptInsertKey })
	key.Plug()
	waitView(t, a, "enrolled", func(v kiosk.View) bool { return v.Prompt == kiosk.PromptEnrollDone })
	eng.Cancel()
	waitView(t, a, "the lock screen", func(v kiosk.View) bool { return v.State == kiosk.StateLocked })
}

// waitMirrored waits until terminal a's mirror holds one credential of
// the person.
func waitMirrored(t *testing.T, a *appliance.Appliance, user string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		creds, err := a.DB().CredentialsOf([]byte(user))
		if err == nil && len(creds) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's mirror never got %s's key: %d credentials, %v", a.Config().Terminal, user, len(creds), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
