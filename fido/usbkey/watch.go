package usbkey

import (
	"context"
	"sync"
	"time"

	libfido2 "github.com/keys-pub/go-libfido2"

	"passkiosk/fido"
	"passkiosk/kiosk"
)

// EventType says what happened to a key.
type EventType int

const (
	// KeyArrived: a key not seen recently was plugged in.
	KeyArrived EventType = iota + 1
	// KeyReplugged: a key that looks like one pulled within the replug
	// window came back (see Watcher for what "looks like" can and cannot
	// tell).
	KeyReplugged
	// KeyRemoved: a key was pulled.
	KeyRemoved
)

func (t EventType) String() string {
	switch t {
	case KeyArrived:
		return "arrived"
	case KeyReplugged:
		return "replugged"
	case KeyRemoved:
		return "removed"
	}
	return "unknown"
}

// Present describes a plugged-in key.
type Present struct {
	Path         string
	VendorID     uint16
	ProductID    uint16
	Manufacturer string
	Product      string
	Info         *Info
	Since        time.Time
}

// Event is one change in the set of plugged-in keys.
type Event struct {
	Type EventType
	Key  Present
	// PreviousPath is where a re-plugged key was before it was pulled.
	PreviousPath string
}

// WatchOptions tune a Watcher.
type WatchOptions struct {
	// Interval between polls; zero means 250 ms.
	Interval time.Duration
	// ReplugWindow is how long after a pull a matching key counts as the
	// same key coming back; zero means 2 minutes.
	ReplugWindow time.Duration
	// Probe bounds the getInfo call made on each new key.
	Probe Options
}

// Watcher follows keys being plugged and pulled by polling libfido2's
// device manifest, which the kernel keeps current without any help; udev
// events are not needed and may be absent in a kiosk's minimal system.
//
// Telling a re-plugged key from a new one: CTAP gives a key no identity
// that can be read without its PIN. The AAGUID names a model, not a key,
// and libfido2 does not expose the USB serial number. A new key counts as
// re-plugged when a key with the same AAGUID, USB vendor and product IDs
// and USB strings was pulled within the replug window. Two keys of the
// same model swapped within the window are therefore indistinguishable
// here; nothing may rest on this but convenience (resuming "re-plug the
// key" after PIN_AUTH_BLOCKED). Who a key belongs to is established only
// by a verified assertion: a credential ID and its signature.
//
// The poller holds no lock while it talks to libfido2, and it opens only
// keys it has not seen, so it never waits on or delays an operation in
// progress on a known key.
type Watcher struct {
	opts   WatchOptions
	events chan Event
	stop   context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	present map[string]Present
}

type pulled struct {
	key Present
	at  time.Time
}

// Watch starts a Watcher. It ends when ctx ends or Close is called.
func Watch(ctx context.Context, opts WatchOptions) *Watcher {
	if opts.Interval <= 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.ReplugWindow <= 0 {
		opts.ReplugWindow = 2 * time.Minute
	}
	opts.Probe = opts.Probe.withDefaults()
	ctx, stop := context.WithCancel(ctx)
	w := &Watcher{
		opts:    opts,
		events:  make(chan Event, 16),
		stop:    stop,
		done:    make(chan struct{}),
		present: make(map[string]Present),
	}
	go w.loop(ctx)
	return w
}

// Events delivers changes in order. It is closed when the Watcher stops.
func (w *Watcher) Events() <-chan Event { return w.events }

// Keys lists the keys plugged in now.
func (w *Watcher) Keys() []Present {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Present, 0, len(w.present))
	for _, p := range w.present {
		out = append(out, p)
	}
	return out
}

// Close stops the Watcher and waits for its goroutine.
func (w *Watcher) Close() {
	w.stop()
	<-w.done
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	defer close(w.events)
	var recent []pulled
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		recent = w.poll(ctx, recent)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll compares the manifest with the known keys and reports the changes.
func (w *Watcher) poll(ctx context.Context, recent []pulled) []pulled {
	locs, err := libfido2.DeviceLocations()
	if err != nil {
		return recent // try again next tick
	}
	now := time.Now()
	here := make(map[string]*libfido2.DeviceLocation, len(locs))
	for _, l := range locs {
		here[l.Path] = l
	}

	w.mu.Lock()
	var gone []Present
	for path, p := range w.present {
		if here[path] == nil {
			gone = append(gone, p)
			delete(w.present, path)
		}
	}
	var fresh []*libfido2.DeviceLocation
	for path, l := range here {
		if _, ok := w.present[path]; !ok {
			fresh = append(fresh, l)
		}
	}
	w.mu.Unlock()

	for _, p := range gone {
		recent = append(recent, pulled{key: p, at: now})
		if !w.emit(ctx, Event{Type: KeyRemoved, Key: p}) {
			return recent
		}
	}
	recent = forgetOld(recent, now, w.opts.ReplugWindow)

	for _, l := range fresh {
		p, ok := w.probe(ctx, l, now)
		if !ok {
			continue // not answering yet, or not a FIDO2 key: next tick
		}
		w.mu.Lock()
		w.present[p.Path] = p
		w.mu.Unlock()
		ev := Event{Type: KeyArrived, Key: p}
		for i, r := range recent {
			if sameModel(r.key, p) {
				ev.Type, ev.PreviousPath = KeyReplugged, r.key.Path
				recent = append(recent[:i], recent[i+1:]...)
				break
			}
		}
		if !w.emit(ctx, ev) {
			return recent
		}
	}
	return recent
}

// Discover lists the FIDO2 keys plugged in now, with their getInfo. A
// key that does not answer getInfo in time is left out.
func Discover(ctx context.Context, opts Options) ([]Present, error) {
	locs, err := libfido2.DeviceLocations()
	if err != nil {
		return nil, kiosk.E(kiosk.KindDevice, "discover keys", err)
	}
	opts = opts.withDefaults()
	now := time.Now()
	var out []Present
	for _, l := range locs {
		if p, ok := probe(ctx, l, opts, now); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func (w *Watcher) probe(ctx context.Context, l *libfido2.DeviceLocation, now time.Time) (Present, bool) {
	return probe(ctx, l, w.opts.Probe, now)
}

func probe(ctx context.Context, l *libfido2.DeviceLocation, opts Options, now time.Time) (Present, bool) {
	d, err := Open(l.Path, opts)
	if err != nil {
		return Present{}, false
	}
	info, err := d.Info(ctx)
	if err != nil {
		return Present{}, false
	}
	return Present{
		Path: l.Path, VendorID: uint16(l.VendorID), ProductID: uint16(l.ProductID),
		Manufacturer: l.Manufacturer, Product: l.Product, Info: info, Since: now,
	}, true
}

func (w *Watcher) emit(ctx context.Context, ev Event) bool {
	select {
	case w.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func sameModel(a, b Present) bool {
	return a.Info.AAGUID == b.Info.AAGUID && a.VendorID == b.VendorID && a.ProductID == b.ProductID &&
		a.Manufacturer == b.Manufacturer && a.Product == b.Product
}

func forgetOld(recent []pulled, now time.Time, window time.Duration) []pulled {
	kept := recent[:0]
	for _, r := range recent {
		if now.Sub(r.at) <= window {
			kept = append(kept, r)
		}
	}
	return kept
}

// AAGUID is the model identifier of a present key.
func (p Present) AAGUID() fido.AAGUID { return p.Info.AAGUID }
