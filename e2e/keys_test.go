package e2e

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"passkiosk/fido/hidtest"
	"passkiosk/fido/usbkey"
	"passkiosk/kiosk"
)

// libfido2 sees the virtual keys only under umockdev's preload, which Go's
// own system calls bypass, so usbkey.Port runs in a client process (this
// test binary re-executed by hidtest) and the engine reaches it through
// remoteKeys. Everything the engine gets from a key has come through
// libfido2 and usbkey, and the engine verifies it again, as in production.

func TestMain(m *testing.M) {
	if hidtest.IsClient() {
		hidtest.ServeClient(portHandlers())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type assertIn struct {
	Key string
	Req kiosk.AssertRequest
}

type makeCredentialIn struct {
	Key string
	Req kiosk.MakeCredentialRequest
}

// portHandlers serve usbkey.Port in the client process.
func portHandlers() map[string]hidtest.Handler {
	var (
		mu   sync.Mutex
		port *usbkey.Port
	)
	get := func() *usbkey.Port { mu.Lock(); defer mu.Unlock(); return port }
	return map[string]hidtest.Handler{
		"start": func(ctx context.Context, _ json.RawMessage) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			port = usbkey.NewPort(context.Background(), usbkey.WatchOptions{Interval: 50 * time.Millisecond}, usbkey.Options{})
			return port.Present(), nil
		},
		"event": func(ctx context.Context, _ json.RawMessage) (any, error) {
			select {
			case ev := <-get().Events():
				return ev, nil
			case <-ctx.Done():
				return nil, kiosk.E(kiosk.KindCancelled, "event", ctx.Err())
			}
		},
		"assert": func(ctx context.Context, raw json.RawMessage) (any, error) {
			var in assertIn
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, err
			}
			return get().Assert(ctx, in.Key, in.Req)
		},
		"make-credential": func(ctx context.Context, raw json.RawMessage) (any, error) {
			var in makeCredentialIn
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, err
			}
			return get().MakeCredential(ctx, in.Key, in.Req)
		},
	}
}

// remoteKeys is the engine's kiosk.RoamingKeys over the client process.
type remoteKeys struct {
	c      *hidtest.Client
	events chan kiosk.KeyEvent

	mu      sync.Mutex
	present map[string]kiosk.KeyInfo
}

var _ kiosk.RoamingKeys = (*remoteKeys)(nil)

func newRemoteKeys(t testing.TB, b *hidtest.Testbed) *remoteKeys {
	t.Helper()
	r := &remoteKeys{c: b.StartClient(t), events: make(chan kiosk.KeyEvent, 16), present: map[string]kiosk.KeyInfo{}}
	var present []kiosk.KeyInfo
	if err := r.call(context.Background(), "start", nil, &present); err != nil {
		t.Fatal(err)
	}
	for _, k := range present {
		r.present[k.ID] = k
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var ev kiosk.KeyEvent
			if err := r.c.Call(ctx, "event", nil, &ev); err != nil {
				select { // the client is gone or the test ends: do not spin
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			r.mu.Lock()
			if ev.Type == kiosk.KeyPlugged {
				r.present[ev.Key.ID] = ev.Key
			} else {
				delete(r.present, ev.Key.ID)
			}
			r.mu.Unlock()
			r.events <- ev
		}
	}()
	return r
}

func (r *remoteKeys) call(ctx context.Context, method string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return r.c.Call(ctx, method, in, out)
}

func (r *remoteKeys) Events() <-chan kiosk.KeyEvent { return r.events }

func (r *remoteKeys) Present() []kiosk.KeyInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []kiosk.KeyInfo
	for _, k := range r.present {
		out = append(out, k)
	}
	return out
}

func (r *remoteKeys) Assert(ctx context.Context, key string, req kiosk.AssertRequest) ([]kiosk.KeyAssertion, error) {
	var out []kiosk.KeyAssertion
	err := r.call(ctx, "assert", assertIn{Key: key, Req: req}, &out)
	return out, err
}

func (r *remoteKeys) MakeCredential(ctx context.Context, key string, req kiosk.MakeCredentialRequest) (kiosk.KeyAttestation, error) {
	var out kiosk.KeyAttestation
	err := r.call(ctx, "make-credential", makeCredentialIn{Key: key, Req: req}, &out)
	return out, err
}
