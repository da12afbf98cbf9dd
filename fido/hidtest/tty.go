package hidtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// libfido2's tools (fido2-cred, fido2-assert, fido2-token) read a PIN with
// readpassphrase(3) from the controlling terminal, and only fall back to
// stdin when there is none. Giving them no terminal is not an option: a
// session leader without one would acquire the emulated hidraw node, which
// is a pty, as its controlling terminal on open, and the prompt would go to
// the key. RunWithPIN gives the tool a terminal of its own instead and
// types the PIN at each prompt, after readpassphrase has switched echo off
// (it flushes pending input when it does, so typing early loses the PIN).

// RunWithPIN runs cmd with a new pseudo-terminal as its controlling
// terminal, stdin and stderr, answers every "PIN" prompt with pin, and
// returns what cmd wrote to stdout and, separately, to the terminal. The
// PIN is never part of either: the terminal does not echo it.
func RunWithPIN(ctx context.Context, cmd *exec.Cmd, pin string) (stdout, terminal []byte, err error) {
	return RunWithPINs(ctx, cmd, pin)
}

// RunWithPINs is RunWithPIN answering the prompts in turn: the first with
// pins[0], the second with pins[1], and every later one with the last
// (fido2-token -C asks for the current PIN, the new one, and the new one
// again).
func RunWithPINs(ctx context.Context, cmd *exec.Cmd, pins ...string) (stdout, terminal []byte, err error) {
	if len(pins) == 0 {
		pins = []string{""}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	master, err := startOnTerminal(cmd)
	if err != nil {
		return nil, nil, err
	}
	defer master.Close()
	var ty typist
	typed := make(chan struct{})
	go func() {
		defer close(typed)
		ty.answer(master, pins)
	}()
	err = waitOrKill(ctx, cmd)
	_ = master.SetReadDeadline(time.Unix(1, 0))
	<-typed
	return out.Bytes(), ty.terminal(), err
}

// startOnTerminal starts cmd in a session of its own with a new
// pseudo-terminal as its controlling terminal, stdin and stderr, and
// returns the terminal's master side.
func startOnTerminal(cmd *exec.Cmd) (*os.File, error) {
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	cmd.Stdin, cmd.Stderr = slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	return master, nil
}

// waitOrKill waits for cmd to exit, and kills it if ctx ends first.
func waitOrKill(ctx context.Context, cmd *exec.Cmd) error {
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-waitErr
		return fmt.Errorf("%s: %w", cmd.Path, ctx.Err())
	}
}

// typist keeps what a tool writes to its terminal and types a PIN at each
// prompt there.
type typist struct {
	mu   sync.Mutex
	term bytes.Buffer
}

// answer reads the terminal until it fails, answering the prompts in turn
// with pins, and every prompt after the last pin with the last pin.
func (ty *typist) answer(master *os.File, pins []string) {
	answered := 0
	buf := make([]byte, 1024)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			for prompts := ty.record(buf[:n]); answered < prompts; answered++ {
				pin := pins[min(answered, len(pins)-1)]
				if _, err := master.Write([]byte(pin + "\n")); err != nil {
					return
				}
			}
		}
		if err != nil {
			return // EIO once the tool exits and the slave closes
		}
	}
}

// record keeps b and returns how many prompts the terminal has shown.
func (ty *typist) record(b []byte) int {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	ty.term.Write(b)
	return strings.Count(ty.term.String(), "PIN")
}

// terminal is a copy of what the tool wrote to its terminal.
func (ty *typist) terminal() []byte {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return append([]byte(nil), ty.term.Bytes()...)
}

// openPTY allocates a pseudo-terminal pair through /dev/ptmx (pty(7)).
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if err := ioctl(m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	var n uint32
	if err := ioctl(m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

func ioctl(fd, req, arg uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, arg); errno != 0 {
		return errno
	}
	return nil
}
