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
	master, slave, err := openPTY()
	if err != nil {
		return nil, nil, err
	}
	defer master.Close()
	var out bytes.Buffer
	cmd.Stdin, cmd.Stderr, cmd.Stdout = slave, slave, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		return nil, nil, err
	}
	slave.Close()

	var (
		tmu  sync.Mutex
		term bytes.Buffer
	)
	typer := make(chan struct{})
	go func() {
		defer close(typer)
		answered := 0
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				tmu.Lock()
				term.Write(buf[:n])
				prompts := strings.Count(term.String(), "PIN")
				tmu.Unlock()
				for ; answered < prompts; answered++ {
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
	}()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-waitErr
		err = fmt.Errorf("%s: %w", cmd.Path, ctx.Err())
	}
	_ = master.SetReadDeadline(time.Unix(1, 0))
	<-typer
	tmu.Lock()
	defer tmu.Unlock()
	return out.Bytes(), append([]byte(nil), term.Bytes()...), err
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
