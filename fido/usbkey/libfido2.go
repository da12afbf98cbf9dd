package usbkey

/*
#cgo pkg-config: libfido2
#include <fido.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
*/
import "C"

import (
	"context"
	"sync"
	"time"
	"unsafe"
)

// go-libfido2 covers discovery well (DeviceLocations), but its Device
// cannot serve this adapter's other needs: Device.Cancel reads the open
// handle under a mutex that the operation writes without, so cancelling a
// running call is a data race; it sets no libfido2 timeout, so a key that
// stops answering blocks forever; Assertion returns only the first of
// several discoverable credentials and drops the user name; and it has no
// UV retry count. The device operations therefore call libfido2's C API
// directly, through the few functions in this file.

// libfido2 must be initialised once before use; FIDO_DEBUG in the
// environment turns on its debug log.
func init() { C.fido_init(0) }

// session is one open libfido2 handle for the length of one operation. The
// handle is published under mu so that cancel, from another goroutine, can
// send CTAPHID_CANCEL while the operation blocks in libfido2 (fido_dev_cancel
// exists for exactly that), and never after the handle is freed.
type session struct {
	mu  sync.Mutex
	dev *C.fido_dev_t
}

// openSession opens path with a libfido2 I/O budget of timeout. The
// budget backs up the context: cancellation normally ends a call first,
// and the budget ends it if the key ignores CTAPHID_CANCEL.
func openSession(path string, timeout time.Duration) (*session, C.int) {
	dev := C.fido_dev_new()
	if dev == nil {
		return nil, C.FIDO_ERR_INTERNAL
	}
	ms := timeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if r := C.fido_dev_set_timeout(dev, C.int(ms)); r != C.FIDO_OK {
		C.fido_dev_free(&dev)
		return nil, r
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if r := C.fido_dev_open(dev, cpath); r != C.FIDO_OK {
		C.fido_dev_free(&dev)
		return nil, r
	}
	return &session{dev: dev}, C.FIDO_OK
}

// watch cancels the operation in progress when ctx ends. The returned
// function stops watching; call it before close.
func (s *session) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, s.cancel)
}

func (s *session) cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev != nil {
		C.fido_dev_cancel(s.dev)
	}
}

func (s *session) close() {
	s.mu.Lock()
	dev := s.dev
	s.dev = nil
	s.mu.Unlock()
	if dev != nil {
		C.fido_dev_close(dev)
		C.fido_dev_free(&dev)
	}
}

// handle returns the libfido2 device for calls made by the goroutine
// running the operation.
func (s *session) handle() *C.fido_dev_t { return s.dev }

func (s *session) hasPIN() bool { return bool(C.fido_dev_has_pin(s.dev)) }
func (s *session) hasUV() bool  { return bool(C.fido_dev_has_uv(s.dev)) }

func (s *session) pinRetries() (int, C.int) {
	var n C.int
	r := C.fido_dev_get_retry_count(s.dev, &n)
	return int(n), r
}

func (s *session) uvRetries() (int, C.int) {
	var n C.int
	r := C.fido_dev_get_uv_retry_count(s.dev, &n)
	return int(n), r
}

// nodePresent asks libc, and so the same view of /dev that libfido2 has,
// whether the device node still exists.
func nodePresent(path string) bool {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return C.access(cpath, C.F_OK) == 0
}

func goBytes(p *C.uchar, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func cBytes(b []byte) (*C.uchar, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uchar)(C.CBytes(b)), C.size_t(len(b))
}

// forEachID hands each of ids to set as C memory, freed after the call,
// and stops at the first failure.
func forEachID(ids [][]byte, set func(p *C.uchar, n C.size_t) C.int) C.int {
	for _, id := range ids {
		p, n := cBytes(id)
		r := set(p, n)
		C.free(unsafe.Pointer(p))
		if r != C.FIDO_OK {
			return r
		}
	}
	return C.FIDO_OK
}

// cPIN returns a NUL-terminated C copy of pin, or nil for none, and a
// function that wipes and frees the copy. The PIN stays in bytes all the
// way: a Go string could not be wiped.
func cPIN(pin []byte) (*C.char, func()) {
	if len(pin) == 0 {
		return nil, func() {}
	}
	// cgo's C.malloc never returns nil: it crashes on exhaustion.
	n := C.size_t(len(pin) + 1)
	p := (*C.char)(C.malloc(n))
	C.memcpy(unsafe.Pointer(p), unsafe.Pointer(&pin[0]), C.size_t(len(pin)))
	*(*C.char)(unsafe.Add(unsafe.Pointer(p), len(pin))) = 0
	return p, func() {
		C.explicit_bzero(unsafe.Pointer(p), n)
		C.free(unsafe.Pointer(p))
	}
}
