package usbkey

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/hidtest"
	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

// The client side keeps one Watcher between calls.
var (
	watchMu sync.Mutex
	watcher *Watcher
)

type eventOut struct {
	Type         string
	Path         string
	PreviousPath string
	AAGUID       fido.AAGUID
	Product      string
}

func init() {
	clientHandlers["watch-start"] = func(ctx context.Context, _ json.RawMessage) (any, error) {
		watchMu.Lock()
		defer watchMu.Unlock()
		watcher = Watch(context.Background(), WatchOptions{Interval: 20 * time.Millisecond})
		return nil, nil
	}
	clientHandlers["watch-next"] = func(ctx context.Context, _ json.RawMessage) (any, error) {
		watchMu.Lock()
		w := watcher
		watchMu.Unlock()
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return nil, errors.New("watcher stopped")
			}
			return eventOut{Type: ev.Type.String(), Path: ev.Key.Path, PreviousPath: ev.PreviousPath,
				AAGUID: ev.Key.AAGUID(), Product: ev.Key.Product}, nil
		case <-ctx.Done():
			return nil, kiosk.E(kiosk.KindTimeout, "watch", ctx.Err())
		}
	}
	clientHandlers["watch-keys"] = func(ctx context.Context, _ json.RawMessage) (any, error) {
		watchMu.Lock()
		defer watchMu.Unlock()
		var paths []string
		for _, p := range watcher.Keys() {
			paths = append(paths, p.Path)
		}
		return paths, nil
	}
}

func TestWatcherFollowsPlugPullAndReplug(t *testing.T) {
	b := hidtest.New(t)
	c := b.StartClient(t)
	call := func(method string, out any) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := c.Call(ctx, method, nil, out); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
	next := func(wantType, wantPath, wantPrev string) eventOut {
		t.Helper()
		var ev eventOut
		call("watch-next", &ev)
		if ev.Type != wantType || ev.Path != wantPath || ev.PreviousPath != wantPrev {
			t.Fatalf("event = %+v, want %s %s (previously %q)", ev, wantType, wantPath, wantPrev)
		}
		return ev
	}
	plug := func(k *softkey.Key) *hidtest.Device {
		t.Helper()
		d, err := b.Plug(k.Plug(), hidtest.Identity{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	call("watch-start", nil)
	one, err := softkey.New(softkey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d1 := plug(one)
	if ev := next("arrived", d1.Path(), ""); ev.AAGUID != one.AAGUID() {
		t.Fatalf("arrival reports AAGUID %v, want %v", ev.AAGUID, one.AAGUID())
	}

	d1.Unplug()
	next("removed", d1.Path(), "")
	before := d1.Path()
	d1 = plug(one)
	next("replugged", d1.Path(), before)

	// A key of another model is new, even while the first is plugged.
	other, err := softkey.New(softkey.Config{AAGUID: fido.AAGUID{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	d2 := plug(other)
	next("arrived", d2.Path(), "")
	var paths []string
	call("watch-keys", &paths)
	if len(paths) != 2 {
		t.Fatalf("watcher lists %v, want two keys", paths)
	}
}
