// Package swtpm starts and stops a swtpm process (Debian package swtpm)
// that serves raw TPM 2.0 commands on a unix socket. Integration tests use
// it for a real TPM process of their own; the demo can use it to keep TPM
// state across restarts, which the in-process simulator cannot.
//
// It owns only the child process and the files in the directory it is
// given; it must not touch the TPM's contents.
package swtpm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"passkiosk/kiosk"
)

// Binary is the swtpm program, found on PATH.
const Binary = "swtpm"

// Process is a running swtpm.
type Process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	Dir    string
	Socket string
}

// Available reports whether the swtpm binary is installed.
func Available() bool {
	_, err := exec.LookPath(Binary)
	return err == nil
}

// Start runs swtpm with its state, sockets and log in dir, and returns once
// the data socket accepts connections. ctx bounds the wait (ten seconds at
// most). The flags are the ones verified for this project: TPM 2.0,
// already initialised and started (TPM2_Startup(CLEAR)) by swtpm itself,
// so raw commands work at once.
func Start(ctx context.Context, dir string) (*Process, error) {
	return StartWith(ctx, dir, Options{})
}

// Options vary the TPM swtpm presents; tests use them to show how
// passkiosk treats TPMs it meets in the field.
type Options struct {
	// TPM12 runs a TPM 1.2, which passkiosk must recognise and refuse.
	TPM12 bool
	// NoStartup leaves the TPM waiting for TPM2_Startup, as a TPM is when
	// firmware did not start it.
	NoStartup bool
}

// StartWith is Start with options.
func StartWith(ctx context.Context, dir string, o Options) (*Process, error) {
	const op = "start swtpm"
	path, err := exec.LookPath(Binary)
	if err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("%s is not installed (Debian package swtpm): %w", Binary, err))
	}
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, err)
	}
	p := &Process{
		Dir:    dir,
		Socket: filepath.Join(dir, "tpm.sock"),
		done:   make(chan struct{}),
	}
	ctrl := filepath.Join(dir, "ctrl.sock")
	for _, s := range []string{p.Socket, ctrl} {
		if len(s) >= 108 {
			return nil, kiosk.Errorf(kiosk.KindNoTPM, op, "socket path %q is too long for a unix socket", s)
		}
		_ = os.Remove(s) // a socket left by a killed swtpm
	}
	args := []string{"socket"}
	if !o.TPM12 {
		args = append(args, "--tpm2")
	}
	flags := "not-need-init,startup-clear"
	if o.NoStartup {
		flags = "not-need-init"
	}
	args = append(args, "--tpmstate", "dir="+state,
		"--server", "type=unixio,path="+p.Socket,
		"--ctrl", "type=unixio,path="+ctrl,
		"--flags", flags,
		"--log", "file="+filepath.Join(dir, "swtpm.log")+",level=1")
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = nil, nil
	// Its own process group, so a signal to the test's group does not
	// race Stop, and Stop reaches nothing else.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.Dial("unix", p.Socket)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, kiosk.Errorf(kiosk.KindNoTPM, op, "swtpm exited at start (%v): %s", p.err, p.log())
		case <-ctx.Done():
			_ = p.Stop()
			return nil, kiosk.Errorf(kiosk.KindTimeout, op, "socket %s not ready: %v", p.Socket, ctx.Err())
		case <-tick.C:
		}
	}
}

// Address is the data channel in the form tpm.Config.Swtpm takes.
func (p *Process) Address() string { return "unix:" + p.Socket }

// Stop ends swtpm: SIGTERM, and SIGKILL if it has not exited within five
// seconds. swtpm writes its state on the way out.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop swtpm: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill swtpm: %w", err)
	}
	<-p.done
	return nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Process) log() string {
	b, err := os.ReadFile(filepath.Join(p.Dir, "swtpm.log"))
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
