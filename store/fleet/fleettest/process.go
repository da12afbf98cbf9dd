package fleettest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// memberEnv, in a process's environment, holds the JSON memberConfig of
// the member it is to run. A test binary that imports this package is its
// own member process: it is started again with memberEnv set, and the
// init below runs the member instead of the tests.
const memberEnv = "PASSKIOSK_FLEETTEST_MEMBER"

const readyLine = "member ready"

func init() {
	if v := os.Getenv(memberEnv); v != "" {
		os.Exit(runMember(v))
	}
}

// runMember is a member process's whole life: start, say so on stdout,
// and run until SIGTERM (a graceful stop), until stdin closes (the test
// process is gone) or until the member fails.
func runMember(config string) int {
	var mc memberConfig
	if err := json.Unmarshal([]byte(config), &mc); err != nil {
		fmt.Fprintf(os.Stderr, "fleettest member: %s does not decode: %v\n", memberEnv, err)
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	e, err := startEmbedded(mc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleettest member: %v\n", err)
		return 1
	}
	fmt.Println(readyLine)
	parentGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(parentGone)
	}()
	select {
	case <-term:
	case <-parentGone:
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "fleettest member %s: %v\n", mc.Name, err)
		e.Close()
		return 1
	}
	e.Close()
	return 0
}

// child is a member running in a child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan error
}

// startChild starts this test binary again as the member mc and waits
// until the member says it is ready. The member's log goes to a file next
// to its data directory.
func startChild(mc memberConfig) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("member %s: finding the test binary: %w", mc.Name, err)
	}
	config, err := json.Marshal(mc)
	if err != nil {
		return nil, err
	}
	logPath := mc.Dir + ".log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", mc.Name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Dir = filepath.Dir(mc.Dir)
	cmd.Env = append(os.Environ(), memberEnv+"="+string(config))
	cmd.Stderr = logFile
	// A test process that dies leaves no member behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("member %s: starting %s: %w", mc.Name, self, err)
	}
	c := &child{cmd: cmd, stdin: stdin, exited: make(chan error, 1)}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := sc.Scan() && sc.Text() == readyLine
		ready <- ok
		_, _ = io.Copy(io.Discard, stdout)
		c.exited <- cmd.Wait()
	}()
	select {
	case ok := <-ready:
		if ok {
			return c, nil
		}
	case <-time.After(30 * time.Second):
	}
	c.stop(true)
	log, _ := os.ReadFile(logPath)
	return nil, fmt.Errorf("member %s: its process did not become ready within 30 s; its log (%s):\n%s", mc.Name, logPath, tail(log, 2000))
}

// stop ends the member's process: SIGKILL when crash, else SIGTERM (the
// member closes as etcd does on a normal stop) and SIGKILL if that takes
// more than 10 s.
func (c *child) stop(crash bool) {
	sig := syscall.SIGTERM
	if crash {
		sig = syscall.SIGKILL
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = c.cmd.Process.Kill()
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.stdin.Close()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
