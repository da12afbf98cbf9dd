package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store"
	"passkiosk/store/fleet"
)

const consoleHelp = `IT's console — type here:
  revoke NAME    revoke every security key of NAME (alice, bob) in the directory
  disable NAME   disable NAME; enable NAME gives the account back
  code NAME      a new enrollment code for NAME
  offline        stop the cluster (the network is down); online starts it again
`

// applianceStop bounds how long the appliance may take to stop after
// SIGTERM: a running session's wipe is bounded by 20 s.
const applianceStop = 30 * time.Second

// serve runs the console on in until ctx ends, the appliance (prog, if
// any) exits, or, without an appliance, in ends.
func (f *demoFleet) serve(ctx context.Context, prog string, in io.Reader, out io.Writer) (err error) {
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(in)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	var exited <-chan struct{}
	if prog != "" {
		a, err := f.startAppliance(prog)
		if err != nil {
			return err
		}
		defer a.stop()
		exited = a.done
		defer func() {
			if err == nil && a.exitedAlone() {
				err = a.err
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
			return nil
		case line, ok := <-lines:
			switch {
			case !ok && exited == nil:
				return nil
			case !ok:
				lines = nil
			default:
				f.command(ctx, line, out)
			}
		}
	}
}

// appliance is the running passkiosk --demo-fleet.
type appliance struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when it has exited
	err     error         // how it exited
	stopped bool          // stop asked it to
}

// startAppliance runs prog --demo-fleet DIR; it gets SIGTERM if this
// program dies first.
func (f *demoFleet) startAppliance(prog string) (*appliance, error) {
	cmd := exec.Command(prog, "--demo-fleet", f.dir)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the appliance: %w", err)
	}
	a := &appliance{cmd: cmd, done: make(chan struct{})}
	go func() {
		a.err = cmd.Wait()
		close(a.done)
	}()
	return a, nil
}

// exitedAlone reports whether the appliance has exited without being
// asked to.
func (a *appliance) exitedAlone() bool {
	select {
	case <-a.done:
		return !a.stopped
	default:
		return false
	}
}

// stop asks the appliance to stop and waits for it, killing it when it
// has not stopped within applianceStop.
func (a *appliance) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	a.stopped = true
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(applianceStop):
		fmt.Fprintf(os.Stderr, "the appliance did not stop within %s; killing it\n", applianceStop)
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// command runs one line of IT's console.
func (f *demoFleet) command(ctx context.Context, line string, out io.Writer) {
	verb, name, _ := strings.Cut(strings.TrimSpace(line), " ")
	name = strings.TrimSpace(name)
	if verb == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var msg string
	var err error
	switch verb {
	case "offline":
		f.cluster.StopAll()
		msg = "all three members stopped: within about 3 s the terminals show offline, and still sign people in from their mirrors; enrollment waits for online"
	case "online":
		f.cluster.RestartAll()
		msg = "the members are back: the terminals catch up with what they missed"
	case "revoke", "disable", "enable", "code":
		msg, err = f.personCommand(ctx, verb, name)
	default:
		msg = strings.TrimRight(consoleHelp, "\n")
	}
	if err != nil {
		msg = fmt.Sprintf("%s: %v", strings.TrimSpace(verb+" "+name), err)
	}
	fmt.Fprintln(out, msg)
}

// personCommand runs a command about one of the demo's people.
func (f *demoFleet) personCommand(ctx context.Context, verb, name string) (string, error) {
	u, ok := person(name)
	if !ok {
		return "", fmt.Errorf("no person %q in the demo (alice, bob)", name)
	}
	switch verb {
	case "revoke":
		return f.revoke(ctx, u)
	case "code":
		code, err := f.d.IssueCode(ctx, u.ID, store.PurposeEnroll, 24*time.Hour, it)
		return fmt.Sprintf("new enrollment code for %s: %s", u.DisplayName, code), err
	}
	return f.setState(ctx, u, verb == "disable")
}

func person(name string) (store.User, bool) {
	for _, u := range people {
		if u.Name == name {
			return u, true
		}
	}
	return store.User{}, false
}

// revoke revokes every roaming credential of u in the directory; every
// terminal's mirror drops them within about a second.
func (f *demoFleet) revoke(ctx context.Context, u store.User) (string, error) {
	// Credential keys are dir/creds/<id>; the key of no id is the prefix.
	r, err := f.root.Get(ctx, fleet.CredentialKey(nil), clientv3.WithPrefix())
	if err != nil {
		return "", err
	}
	n, rev := 0, int64(0)
	for _, kv := range r.Kvs {
		c, err := fleet.DecodeCredential(kv.Value)
		if err != nil || !bytes.Equal(c.UserID, u.ID) {
			continue
		}
		if rev, err = f.d.Revoke(ctx, c.ID, u.ID, it, "revoked at the demo's console"); err != nil {
			return "", err
		}
		n++
	}
	if n == 0 {
		return fmt.Sprintf("%s has no security key in the directory: enroll one first", u.DisplayName), nil
	}
	return fmt.Sprintf("revoked %d security key(s) of %s at revision %d", n, u.DisplayName, rev), nil
}

// setState disables or enables u's account in the directory.
func (f *demoFleet) setState(ctx context.Context, u store.User, disable bool) (string, error) {
	state, word := store.UserActive, "enabled"
	if disable {
		state, word = store.UserDisabled, "disabled"
	}
	rev, err := f.d.SetUserState(ctx, u.ID, state, "demo console")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s at revision %d", word, u.DisplayName, rev), nil
}
