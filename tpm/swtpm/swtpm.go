// Package swtpm starts and stops a swtpm process (Debian package swtpm)
// that serves raw TPM 2.0 commands on a unix socket, or on a TCP port on
// 127.0.0.1. Integration tests use it for a real TPM process of their own;
// the demo can use it to keep TPM state across restarts, which the
// in-process simulator cannot.
//
// It owns only the child process and the files in the directory it is
// given; it must not touch the TPM's contents.
package swtpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"passkiosk/kiosk"
)

// Binary is the swtpm program, found on PATH.
const Binary = "swtpm"

// Process is a running swtpm.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	opts Options
	// logFrom is where this run's lines start in the log file.
	logFrom int64
	Dir     string
	// Socket is the data channel's unix socket path; empty with TCP.
	Socket string
	// Port is the data channel's TCP port on 127.0.0.1; 0 with a unix
	// socket.
	Port int
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
	// TCP serves the data channel on a free TCP port on 127.0.0.1 instead
	// of a unix socket (see startTCP).
	TCP bool
}

// tcpAttempts bounds how often Start picks another port when the one it
// chose was taken before swtpm could bind it.
const tcpAttempts = 5

// errPortTaken is a TCP start that lost its port to another program.
var errPortTaken = errors.New("the chosen port was taken before swtpm bound it")

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
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if !o.TCP {
		return startUnix(ctx, path, dir, o)
	}
	for i := 1; ; i++ {
		p, err := startTCP(ctx, path, dir, o)
		switch {
		case !errors.Is(err, errPortTaken):
			return p, err
		case i == tcpAttempts:
			return nil, kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("%d ports tried: %w", i, err))
		}
	}
}

func startUnix(ctx context.Context, path, dir string, o Options) (*Process, error) {
	const op = "start swtpm"
	p := newProcess(dir, o)
	p.Socket = filepath.Join(dir, "tpm.sock")
	ctrl := filepath.Join(dir, "ctrl.sock")
	for _, s := range []string{p.Socket, ctrl} {
		if len(s) >= 108 {
			return nil, kiosk.Errorf(kiosk.KindNoTPM, op, "socket path %q is too long for a unix socket", s)
		}
		_ = os.Remove(s) // a socket left by a killed swtpm
	}
	args := append(p.baseArgs(),
		"--server", "type=unixio,path="+p.Socket,
		"--ctrl", "type=unixio,path="+ctrl)
	if err := p.start(path, args, nil); err != nil {
		return nil, err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.Dial("unix", p.Socket)
		if err == nil {
			c.Close()
			return p, nil
		}
		if err := p.waitTick(ctx, tick, "socket "+p.Socket); err != nil {
			return nil, err
		}
	}
}

// startTCP serves the data channel on a TCP port on 127.0.0.1, with the
// control channel on a second one, never on another address.
//
// The control channel's listening socket is bound here, on a port the
// kernel picks, and handed to swtpm already listening (--ctrl
// type=tcp,fd=3), so nothing else can take it. swtpm's data channel takes
// no listening socket (its fd= is one connection), so its port is picked
// by binding port 0 and closing it again, and swtpm binds it by number.
// Another program could take the port in between: swtpm then exits
// ("Address already in use") and Start tries another port. Readiness is
// asked on the control channel (CMD_GET_CAPABILITY): only our swtpm can
// answer there, and it answers only after it has bound the data port, so
// a data port someone else holds is never taken for ours.
func startTCP(ctx context.Context, path, dir string, o Options) (*Process, error) {
	const op = "start swtpm"
	port, err := pickPort()
	if err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, err)
	}
	ctrl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, err)
	}
	ctrlAddr := ctrl.Addr().String()
	ctrlFile, err := ctrl.(*net.TCPListener).File()
	ctrl.Close() // the socket lives on in ctrlFile, a duplicate
	if err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, err)
	}

	p := newProcess(dir, o)
	p.Port = port
	args := append(p.baseArgs(),
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port),
		"--ctrl", "type=tcp,fd=3")
	err = p.start(path, args, []*os.File{ctrlFile})
	// From here only swtpm holds the control socket: if it exits, the
	// socket closes and the readiness question fails at once.
	ctrlFile.Close()
	if err != nil {
		return nil, err
	}

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := askCapability(ctx, ctrlAddr); err == nil {
			return p, nil
		}
		if err := p.waitTick(ctx, tick, "control channel "+ctrlAddr); err != nil {
			if p.Exited() && bytes.Contains(p.logBytes(), []byte("Address already in use")) {
				return nil, fmt.Errorf("port %d: %w", port, errPortTaken)
			}
			return nil, err
		}
	}
}

// pickPort chooses the data port; tests replace it to lose the race.
var pickPort = freePort

// freePort asks the kernel for a TCP port free on 127.0.0.1 just now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// askCapability sends swtpm's control command CMD_GET_CAPABILITY (1) and
// reads its answer: a result code and the capability bits.
func askCapability(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := c.Write(binary.BigEndian.AppendUint32(nil, 1)); err != nil {
		return err
	}
	var rsp [8]byte
	if _, err := io.ReadFull(c, rsp[:]); err != nil {
		return err
	}
	if rc := binary.BigEndian.Uint32(rsp[:4]); rc != 0 {
		return fmt.Errorf("swtpm control channel: result 0x%x", rc)
	}
	return nil
}

func newProcess(dir string, o Options) *Process {
	p := &Process{Dir: dir, opts: o, done: make(chan struct{})}
	if fi, err := os.Stat(p.logPath()); err == nil {
		p.logFrom = fi.Size()
	}
	return p
}

func (p *Process) baseArgs() []string {
	args := []string{"socket"}
	if !p.opts.TPM12 {
		args = append(args, "--tpm2")
	}
	flags := "not-need-init,startup-clear"
	if p.opts.NoStartup {
		flags = "not-need-init"
	}
	return append(args, "--tpmstate", "dir="+filepath.Join(p.Dir, "state"),
		"--flags", flags,
		"--log", "file="+p.logPath()+",level=1")
}

// start runs swtpm with args; extra become its descriptors 3 and up.
func (p *Process) start(path string, args []string, extra []*os.File) error {
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = nil, nil
	p.cmd.ExtraFiles = extra
	// Its own process group, so a signal to the test's group does not
	// race Stop, and Stop reaches nothing else.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return kiosk.E(kiosk.KindNoTPM, "start swtpm", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

// waitTick waits for the next readiness poll, or says why there is none.
func (p *Process) waitTick(ctx context.Context, tick *time.Ticker, what string) error {
	const op = "start swtpm"
	select {
	case <-p.done:
		return kiosk.Errorf(kiosk.KindNoTPM, op, "swtpm exited at start (%v): %s", p.err, p.log())
	case <-ctx.Done():
		_ = p.Stop()
		return kiosk.Errorf(kiosk.KindTimeout, op, "%s not ready: %v", what, ctx.Err())
	case <-tick.C:
		return nil
	}
}

// Options returns the options the process was started with, so that a
// restart can use them again.
func (p *Process) Options() Options { return p.opts }

// Address is the data channel in the form tpm.Config.Swtpm takes.
func (p *Process) Address() string {
	if p.Port != 0 {
		return "tcp:" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	}
	return "unix:" + p.Socket
}

// Stop ends swtpm in order: TPM2_Shutdown(CLEAR) on its data channel,
// then SIGTERM, and SIGKILL if it has not exited within five seconds.
// swtpm writes its state on the way out. Without the shutdown the TPM
// takes the stop for a power cut, and when a PIN-protected key was used
// since its start, its next start counts one dictionary-attack failure
// (measured: the counter is 1 after SIGTERM alone; see PowerCut).
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if !p.opts.TPM12 {
		p.shutdown()
	}
	return p.terminate()
}

// PowerCut ends swtpm without TPM2_Shutdown, as a power cut or a crash of
// whatever should have sent it: at its next start the TPM counts one
// dictionary-attack failure.
func (p *Process) PowerCut() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	return p.terminate()
}

func (p *Process) terminate() error {
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

// shutdownClear is TPM2_Shutdown(TPM_SU_CLEAR) (Part 3 §9.4): tag
// TPM_ST_NO_SESSIONS, size 12, TPM_CC_Shutdown, shutdownType 0.
var shutdownClear = []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 0}

// shutdown sends TPM2_Shutdown(CLEAR) on a connection of its own, with a
// short deadline: the data channel serves one connection at a time, and a
// client still connected must not hold up the stop. A failure only costs
// the try a power cut would; it is not an error of Stop.
func (p *Process) shutdown() {
	network, address := "unix", p.Socket
	if p.Port != 0 {
		network, address = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	}
	c, err := net.DialTimeout(network, address, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(shutdownClear); err != nil {
		return
	}
	var rsp [10]byte
	_, _ = io.ReadFull(c, rsp[:])
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

func (p *Process) logPath() string { return filepath.Join(p.Dir, "swtpm.log") }

// logBytes is what this run wrote to the log.
func (p *Process) logBytes() []byte {
	b, err := os.ReadFile(p.logPath())
	if err != nil || int64(len(b)) < p.logFrom {
		return b
	}
	return b[p.logFrom:]
}

func (p *Process) log() string {
	b := p.logBytes()
	if len(b) == 0 {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
