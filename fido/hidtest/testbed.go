package hidtest

/*
#cgo pkg-config: umockdev-1.0
#include <stdlib.h>
#include "umockdev_glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"unsafe"
)

// PreloadLibrary is the umockdev library a client process must load from
// its start so that its C code (libudev, libfido2) sees the testbed's sysfs
// and device nodes instead of the machine's.
const PreloadLibrary = "libumockdev-preload.so.0"

// Testbed is one umockdev testbed: a private sysfs and /dev tree into which
// virtual security keys are plugged. Clients started with Env see exactly
// the keys plugged here.
type Testbed struct {
	mu      sync.Mutex
	bed     *C.hidtest_bed
	root    string
	next    int
	devices map[*Device]struct{}
}

// New creates a testbed for the duration of a test; every key still plugged
// is unplugged and the testbed removed when the test ends.
func New(tb testing.TB) *Testbed {
	tb.Helper()
	b, err := NewTestbed()
	if err != nil {
		tb.Fatalf("hidtest: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}

// NewTestbed creates a testbed; the caller must Close it.
func NewTestbed() (*Testbed, error) {
	var cerr *C.char
	bed := C.hidtest_bed_new(&cerr)
	if bed == nil {
		return nil, errors.New(takeCString(cerr))
	}
	return &Testbed{
		bed:     bed,
		root:    C.GoString(C.hidtest_bed_root(bed)),
		devices: make(map[*Device]struct{}),
	}, nil
}

// Root is the testbed's directory, the value of UMOCKDEV_DIR for clients.
func (b *Testbed) Root() string { return b.root }

// Env returns the environment for a client process: the current one plus
// the preload library and UMOCKDEV_DIR. Both must be present when the
// process starts; setting them later has no effect on a running process.
func (b *Testbed) Env() []string {
	env := make([]string, 0, len(os.Environ())+2)
	preload := PreloadLibrary
	for _, kv := range os.Environ() {
		switch {
		case len(kv) > 11 && kv[:11] == "LD_PRELOAD=":
			preload = PreloadLibrary + " " + kv[11:]
		case len(kv) > 13 && kv[:13] == "UMOCKDEV_DIR=":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "LD_PRELOAD="+preload, "UMOCKDEV_DIR="+b.root)
}

// Close unplugs every key and removes the testbed.
func (b *Testbed) Close() {
	b.mu.Lock()
	devs := make([]*Device, 0, len(b.devices))
	for d := range b.devices {
		devs = append(devs, d)
	}
	b.mu.Unlock()
	for _, d := range devs {
		d.Unplug()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bed != nil {
		C.hidtest_bed_free(b.bed)
		b.bed = nil
	}
}

// IoctlCount is how many ioctls the testbed's handler has been asked to
// serve in this process, across all testbeds. Tests use it to prove that a
// client really went through the emulated hidraw node.
func IoctlCount() uint { return uint(C.hidtest_ioctl_count()) }

func (b *Testbed) add(record, devnode string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bed == nil {
		return errors.New("hidtest: testbed closed")
	}
	crec, cdev := C.CString(record), C.CString(devnode)
	defer C.free(unsafe.Pointer(crec))
	defer C.free(unsafe.Pointer(cdev))
	// umockdev opens the pty master without O_CLOEXEC. Go starts child
	// processes keeping every descriptor that lacks it, so a client
	// started later would hold the master open, and pulling the key would
	// never hang up the node under that client. Holding ForkLock while
	// the descriptor is created and marked keeps any fork from seeing it.
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	var cerr *C.char
	if C.hidtest_bed_add(b.bed, crec, cdev, &cerr) != 0 {
		return fmt.Errorf("hidtest: %s", takeCString(cerr))
	}
	if fd := C.hidtest_bed_dev_fd(b.bed, cdev); fd >= 0 {
		syscall.CloseOnExec(int(fd))
	}
	return nil
}

func (b *Testbed) devFD(devnode string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	cdev := C.CString(devnode)
	defer C.free(unsafe.Pointer(cdev))
	return int(C.hidtest_bed_dev_fd(b.bed, cdev))
}

// remove removes the sysfs devices, leaf first: umockdev removes one
// directory per call and leaves a child's class links behind if its
// parent goes first. The ioctl handler stays attached to the node's name
// until the testbed closes: a client still holding the node open after the
// pull must keep reaching the handler (the preload library ends a client
// whose ioctl socket vanished), and its reads and writes then fail on the
// hung-up pty, as they would on a pulled key. Node names are never reused.
func (b *Testbed) remove(syspaths []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bed == nil {
		return
	}
	for _, p := range syspaths {
		cp := C.CString(p)
		C.hidtest_bed_remove_device(b.bed, cp)
		C.free(unsafe.Pointer(cp))
	}
}

func takeCString(s *C.char) string {
	if s == nil {
		return "unknown error"
	}
	defer C.g_free(C.gpointer(unsafe.Pointer(s)))
	return C.GoString(s)
}
