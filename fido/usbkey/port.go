package usbkey

import (
	"context"
	"sync"

	"passkiosk/kiosk"
)

// Port is the engine's kiosk.RoamingKeys over libfido2. It passes what a
// key answers on as it came; the engine, which built the client data and
// holds the records, verifies it once.
type Port struct {
	w      *Watcher
	opts   Options
	events chan kiosk.KeyEvent

	mu    sync.Mutex
	known map[string]kiosk.KeyInfo // by device path
}

var _ kiosk.RoamingKeys = (*Port)(nil)

// NewPort watches for keys until ctx ends.
func NewPort(ctx context.Context, watch WatchOptions, opts Options) *Port {
	p := &Port{
		w:      Watch(ctx, watch),
		opts:   opts,
		events: make(chan kiosk.KeyEvent, 16),
		known:  map[string]kiosk.KeyInfo{},
	}
	for _, k := range p.w.Keys() {
		p.known[k.Path] = keyInfo(k)
	}
	go p.forward()
	return p
}

// keyInfo describes a key; its ID includes when it was plugged, so a
// re-plugged key is a new plug-in.
func keyInfo(k Present) kiosk.KeyInfo {
	info := kiosk.KeyInfo{ID: k.Path + "@" + k.Since.Format("150405.000000"), AAGUID: k.AAGUID(), Product: k.Product}
	if k.Info != nil {
		info.HasPIN, info.HasFingerprint = k.Info.PINSet(), k.Info.HasFingerprint()
	}
	return info
}

func (p *Port) forward() {
	for ev := range p.w.Events() {
		p.mu.Lock()
		switch ev.Type {
		case KeyRemoved:
			info, ok := p.known[ev.Key.Path]
			delete(p.known, ev.Key.Path)
			p.mu.Unlock()
			if ok {
				p.events <- kiosk.KeyEvent{Type: kiosk.KeyRemoved, Key: info}
			}
		default:
			// Arrived or re-plugged: both are a new plug-in to the engine.
			// The Watcher tells a re-plugged key by its model and USB
			// strings only, which keys of one model share, so nothing the
			// engine decides rests on it.
			info := keyInfo(ev.Key)
			p.known[ev.Key.Path] = info
			p.mu.Unlock()
			p.events <- kiosk.KeyEvent{Type: kiosk.KeyPlugged, Key: info}
		}
	}
	close(p.events)
}

// Events reports keys plugged in and pulled out; it is closed when the
// watch ends.
func (p *Port) Events() <-chan kiosk.KeyEvent { return p.events }

// Present lists the keys plugged in now.
func (p *Port) Present() []kiosk.KeyInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]kiosk.KeyInfo, 0, len(p.known))
	for _, k := range p.known {
		out = append(out, k)
	}
	return out
}

func (p *Port) device(id string) (*Device, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for path, k := range p.known {
		if k.ID == id {
			return Open(path, p.opts)
		}
	}
	return nil, kiosk.Errorf(kiosk.KindDeviceGone, "usb key", "the key is no longer plugged in")
}

// typedPIN answers a request for the PIN with the one the person typed;
// asked for the fingerprint only, a request for the PIN means the sensor
// is locked, which the engine turns into a PIN prompt.
func typedPIN(uv kiosk.UV) PINFunc {
	return func(context.Context) ([]byte, error) {
		if len(uv.PIN) == 0 {
			return nil, kiosk.Errorf(kiosk.KindUVBlocked, "usb key", "the fingerprint sensor is locked: the PIN is needed")
		}
		return uv.PIN, nil // the engine wipes it after the operation
	}
}

// Assert gets assertions over the engine's client data hash. A request
// with neither a PIN nor the fingerprint asks for a touch only
// (kiosk.AssertRequest).
func (p *Port) Assert(ctx context.Context, id string, req kiosk.AssertRequest) ([]kiosk.KeyAssertion, error) {
	d, err := p.device(id)
	if err != nil {
		return nil, err
	}
	presence := req.UV.PresenceOnly()
	res, err := d.SignIn(ctx, SignInRequest{RPID: req.RPID, ClientDataHash: req.ClientDataHash,
		AllowList: req.AllowList, PIN: typedPIN(req.UV), RequireUV: !presence, PresenceOnly: presence})
	if err != nil {
		return nil, err
	}
	out := make([]kiosk.KeyAssertion, 0, len(res.Accounts))
	for _, a := range res.Accounts {
		out = append(out, kiosk.KeyAssertion{CredentialID: a.CredentialID, AuthData: a.AuthData, Signature: a.Signature,
			UserHandle: a.UserHandle, UserName: a.UserName, DisplayName: a.DisplayName})
	}
	return out, nil
}

// MakeCredential registers a discoverable credential, with user
// verification.
func (p *Port) MakeCredential(ctx context.Context, id string, req kiosk.MakeCredentialRequest) (kiosk.KeyAttestation, error) {
	d, err := p.device(id)
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	reg, err := d.Register(ctx, RegisterRequest{RPID: req.RPID, RPName: req.RPName, ClientDataHash: req.ClientDataHash,
		User:         User{ID: req.UserID, Name: req.UserName, DisplayName: req.DisplayName},
		Discoverable: true, Exclude: req.Exclude, PIN: typedPIN(req.UV), RequireUV: true})
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	return kiosk.KeyAttestation{AttestationObject: reg.AttestationObject}, nil
}
