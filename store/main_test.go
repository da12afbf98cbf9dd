package store_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"passkiosk/store"
)

// Tests re-execute this test binary as a second process: one that holds the
// store's lock, and one that writes until it is killed. The variable below
// picks the part to play; its value is the store's path in PASSKIOSK_STORE_PATH.
const childEnv = "PASSKIOSK_STORE_CHILD"

// raceBuild is set by race_test.go when the race detector is on.
var raceBuild bool

func TestMain(m *testing.M) {
	if os.Getenv("PASSKIOSK_STORE_CHECK") != "" && os.Getenv("PASSKIOSK_TEST_CHECKER_DIES") != "" {
		// Stands in for a checker that bbolt crashed.
		syscall.Kill(os.Getpid(), syscall.SIGSEGV)
	}
	store.ServeCheck()
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "hold-lock":
		os.Exit(holdLock(os.Getenv("PASSKIOSK_STORE_PATH")))
	case "crash-writer":
		os.Exit(crashWriter(os.Getenv("PASSKIOSK_STORE_PATH")))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
}

// child starts this binary in the given part and returns it with a reader
// on its standard output.
func child(t *testing.T, part, path string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+part, "PASSKIOSK_STORE_PATH="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(out), in
}

// readLine reads one line from a child, waiting at most d.
func readLine(r *bufio.Reader, d time.Duration) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := r.ReadString('\n')
		ch <- result{s, err}
	}()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-time.After(d):
		return "", fmt.Errorf("no line from child within %s", d)
	}
}
