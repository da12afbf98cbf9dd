package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// checkEnv carries the path of the store a re-executed checker checks.
const checkEnv = "PASSKIOSK_STORE_CHECK"

// Exit codes of the checker process.
const (
	checkOK      = 0
	checkCorrupt = 3
	checkLocked  = 4
)

// ServeCheck must be the first call in main of a program that opens the
// store with Options.IsolateCheck. When this process was started as the
// checker it checks the store, reports on stdout and exits; otherwise it
// returns at once.
func ServeCheck() {
	path, ok := os.LookupEnv(checkEnv)
	if !ok {
		return
	}
	timeout, _ := time.ParseDuration(os.Getenv(checkEnv + "_TIMEOUT"))
	err := checkFile(path, timeout)
	switch kiosk.KindOf(err) {
	case kiosk.KindUnknown:
		if err == nil {
			os.Exit(checkOK)
		}
		fmt.Print(err)
		os.Exit(checkCorrupt)
	case kiosk.KindStoreLocked:
		fmt.Print(err)
		os.Exit(checkLocked)
	default:
		fmt.Print(err)
		os.Exit(checkCorrupt)
	}
}

// checkFile runs the full check on path. It opens the file the way Open
// will right after (read-write, so bbolt loads the freelist at open), but
// only reads.
func checkFile(path string, timeout time.Duration) error {
	const op = "check store"
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db := &DB{path: path, now: time.Now}
	err := guard(op, path, func() error {
		b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
		if err != nil {
			return classifyOpen(path, timeout, err)
		}
		db.bolt = b
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.check(); err != nil {
		db.closeAfterCheck(err)
		return err
	}
	return db.bolt.Close()
}

// checkInChild re-executes this program as the checker and turns its end
// into an error: its report for a clean exit with a verdict, and
// KindStoreCorrupt naming the signal or status when it died.
func checkInChild(path string, timeout time.Duration) error {
	const op = "check store"
	self, err := os.Executable()
	if err != nil {
		return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("finding this program to run the check: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), checkEnv+"="+path, checkEnv+"_TIMEOUT="+timeout.String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == checkLocked:
		return kiosk.Errorf(kiosk.KindStoreLocked, op, "%s", out.String())
	case errors.As(err, &exit) && exit.ExitCode() == checkCorrupt:
		return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%s", out.String())
	case ctx.Err() != nil:
		return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "check of %s did not finish in %s", path, timeout+checkTimeout)
	default:
		return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "check of %s died (%v): %s", path, err, lastLine(errOut.String()))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error") || strings.HasPrefix(l, "panic") {
			return l
		}
	}
	return lines[len(lines)-1]
}
