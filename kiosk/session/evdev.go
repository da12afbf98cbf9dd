package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"passkiosk/kiosk"
)

// EvdevIdle measures idle time from the kernel's input devices
// (/dev/input/event*). Every key press, pointer move and touch passes
// through them before any display server sees it, so the figure covers
// every program on the screen, under X11 and under a Wayland compositor
// such as cage alike, where no protocol tells an ordinary client about
// other clients' input. The devices are read without grabbing them
// (no EVIOCGRAB): the compositor still gets every event, and nothing
// typed is kept — only the time it arrived. Needs read access to the
// devices (root, or the input group).
type EvdevIdle struct {
	// Dir holds the event devices; default /dev/input.
	Dir string
	// Rescan is how often devices plugged in later are looked for;
	// default 2 s.
	Rescan time.Duration

	mu      sync.Mutex
	last    time.Time
	open    map[string]*os.File
	scanned time.Time
	err     error // why no device could be read
	closed  bool
}

// Idle returns the time since the last input event on any device, or an
// error when no input device can be read.
func (x *EvdevIdle) Idle(ctx context.Context) (time.Duration, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return 0, kiosk.Errorf(kiosk.KindDevice, "evdev idle", "closed")
	}
	rescan := x.Rescan
	if rescan <= 0 {
		rescan = 2 * time.Second
	}
	// With no device open, look every time: the first one may just have
	// been plugged in.
	if len(x.open) == 0 || time.Since(x.scanned) >= rescan {
		x.scanLocked()
	}
	if len(x.open) == 0 {
		return 0, kiosk.E(kiosk.KindDevice, "evdev idle", x.err)
	}
	return time.Since(x.last), nil
}

// scanLocked opens event devices not yet open. The first scan starts the
// clock: idle time counts from then until the first event.
func (x *EvdevIdle) scanLocked() {
	dir := x.Dir
	if dir == "" {
		dir = "/dev/input"
	}
	if x.open == nil {
		x.open = map[string]*os.File{}
		x.last = time.Now()
	}
	x.scanned = time.Now()
	paths, _ := filepath.Glob(filepath.Join(dir, "event*"))
	x.err = errors.New("no input devices in " + dir)
	for _, p := range paths {
		if x.open[p] != nil {
			continue
		}
		// Non-blocking, so reads go through Go's poller and Close ends
		// them.
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			x.err = err
			continue
		}
		x.open[p] = f
		go x.read(p, f)
	}
}

// read notes the arrival time of every event from one device until it
// goes away. An event is a struct input_event (24 bytes on 64-bit Linux);
// its content is read and dropped.
func (x *EvdevIdle) read(path string, f *os.File) {
	buf := make([]byte, 24*64)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			x.mu.Lock()
			x.last = time.Now()
			x.mu.Unlock()
		}
		if err != nil {
			f.Close()
			x.mu.Lock()
			if x.open[path] == f {
				delete(x.open, path)
			}
			x.mu.Unlock()
			return
		}
	}
}

// Close stops reading every device; Idle fails from then on, and opens
// nothing again.
func (x *EvdevIdle) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	for p, f := range x.open {
		f.Close()
		delete(x.open, p)
	}
	return nil
}
