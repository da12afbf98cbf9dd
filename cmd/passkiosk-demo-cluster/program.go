package main

import (
	"fmt"
	"os"
	"testing"
)

// programTB lets this program start store/fleet/fleettest's embedded
// cluster, which is written for tests and asks for a testing.TB: the
// same three members, certificate authority and clients the fleet's
// tests run on, rather than a second copy of them here. Only what
// fleettest calls is implemented; the embedded interface satisfies
// testing.TB's unexported method and is never called (a call to
// anything else would panic on it, loudly).
type programTB struct {
	testing.TB
	dir      string
	temps    int
	cleanups []func()
}

// fatal is what Fatal panics with; run recovers it into an error.
type fatal struct{ msg string }

func (p *programTB) Helper()                    {}
func (p *programTB) Name() string               { return "passkiosk-demo-cluster" }
func (p *programTB) Cleanup(f func())           { p.cleanups = append(p.cleanups, f) }
func (p *programTB) Log(args ...any)            { fmt.Fprintln(os.Stderr, args...) }
func (p *programTB) Logf(f string, args ...any) { fmt.Fprintf(os.Stderr, f+"\n", args...) }
func (p *programTB) Fatal(args ...any)          { panic(fatal{fmt.Sprint(args...)}) }
func (p *programTB) Fatalf(f string, args ...any) {
	panic(fatal{fmt.Sprintf(f, args...)})
}
func (p *programTB) Error(args ...any)            { p.Fatal(args...) }
func (p *programTB) Errorf(f string, args ...any) { p.Fatalf(f, args...) }

// TempDir is a new folder inside the demo's folder.
func (p *programTB) TempDir() string {
	p.temps++
	dir := fmt.Sprintf("%s/cluster-%d", p.dir, p.temps)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		p.Fatal(err)
	}
	return dir
}

// cleanup runs the cleanups, last first, as testing does.
func (p *programTB) cleanup() {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
	p.cleanups = nil
}
