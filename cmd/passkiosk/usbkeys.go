package main

import (
	"context"
	"sync"

	"passkiosk/fido"
	"passkiosk/fido/usbkey"
	"passkiosk/kiosk"
)

// usbKeys is the kiosk.RoamingKeys port over fido/usbkey (libfido2). The
// key's answers are verified twice: by usbkey against the stored
// credential (lookup), and again by the engine, which also redeems the
// challenge and applies policy.
type usbKeys struct {
	w      *usbkey.Watcher
	lookup usbkey.LookupFunc
	events chan kiosk.KeyEvent
	opts   usbkey.Options

	mu    sync.Mutex
	known map[string]kiosk.KeyInfo // by device path
}

var _ kiosk.RoamingKeys = (*usbKeys)(nil)

func newUSBKeys(ctx context.Context, records kiosk.Store) *usbKeys {
	u := &usbKeys{
		w:      usbkey.Watch(ctx, usbkey.WatchOptions{}),
		events: make(chan kiosk.KeyEvent, 16),
		known:  map[string]kiosk.KeyInfo{},
		lookup: func(credID, _ []byte) (fido.StoredCredential, error) {
			c, err := records.Credential(credID)
			if err != nil {
				return fido.StoredCredential{}, err
			}
			return fido.StoredCredential{ID: c.ID, PublicKey: c.PublicKey, Counter: c.Counter,
				UserHandle: []byte(c.User), BackupEligible: c.BackupEligible}, nil
		},
	}
	for _, p := range u.w.Keys() {
		u.known[p.Path] = keyInfo(p)
	}
	go u.forward()
	return u
}

// keyInfo describes a key; its ID includes when it was plugged, so a
// re-plugged key is a new plug-in.
func keyInfo(p usbkey.Present) kiosk.KeyInfo {
	info := kiosk.KeyInfo{ID: p.Path + "@" + p.Since.Format("150405.000000"), AAGUID: p.AAGUID(), Product: p.Product}
	if p.Info != nil {
		info.HasPIN, info.HasFingerprint = p.Info.PINSet(), p.Info.HasFingerprint()
	}
	return info
}

func (u *usbKeys) forward() {
	for ev := range u.w.Events() {
		u.mu.Lock()
		switch ev.Type {
		case usbkey.KeyRemoved:
			info, ok := u.known[ev.Key.Path]
			delete(u.known, ev.Key.Path)
			u.mu.Unlock()
			if ok {
				u.events <- kiosk.KeyEvent{Type: kiosk.KeyRemoved, Key: info}
			}
		default: // arrived or re-plugged: both are a new plug-in to the engine
			info := keyInfo(ev.Key)
			u.known[ev.Key.Path] = info
			u.mu.Unlock()
			u.events <- kiosk.KeyEvent{Type: kiosk.KeyPlugged, Key: info}
		}
	}
	close(u.events)
}

func (u *usbKeys) Events() <-chan kiosk.KeyEvent { return u.events }

func (u *usbKeys) Present() []kiosk.KeyInfo {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]kiosk.KeyInfo, 0, len(u.known))
	for _, k := range u.known {
		out = append(out, k)
	}
	return out
}

func (u *usbKeys) device(id string) (*usbkey.Device, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for path, k := range u.known {
		if k.ID == id {
			return usbkey.Open(path, u.opts)
		}
	}
	return nil, kiosk.Errorf(kiosk.KindDeviceGone, "usb key", "the key is no longer plugged in")
}

// pinFunc answers usbkey's request for the PIN with the one the person
// typed; asked for the fingerprint only, a request for the PIN means the
// sensor is locked, which the engine turns into a PIN prompt.
func pinFunc(uv kiosk.UV) usbkey.PINFunc {
	return func(context.Context) (string, error) {
		if len(uv.PIN) == 0 {
			return "", kiosk.Errorf(kiosk.KindUVBlocked, "usb key", "the fingerprint sensor is locked: the PIN is needed")
		}
		return string(uv.PIN), nil
	}
}

func (u *usbKeys) Assert(ctx context.Context, id string, req kiosk.AssertRequest) ([]kiosk.KeyAssertion, error) {
	d, err := u.device(id)
	if err != nil {
		return nil, err
	}
	res, err := d.SignIn(ctx, usbkey.SignInRequest{RPID: req.RPID, Origin: req.Origin, Challenge: req.Challenge,
		AllowList: req.AllowList, PIN: pinFunc(req.UV), RequireUV: true, Lookup: u.lookup})
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

func (u *usbKeys) MakeCredential(ctx context.Context, id string, req kiosk.MakeCredentialRequest) (kiosk.KeyAttestation, error) {
	d, err := u.device(id)
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	reg, err := d.Register(ctx, usbkey.RegisterRequest{RPID: req.RPID, RPName: req.RPName, Origin: req.Origin,
		Challenge: req.Challenge, User: usbkey.User{ID: req.UserID, Name: req.UserName, DisplayName: req.DisplayName},
		Discoverable: true, Exclude: req.Exclude, PIN: pinFunc(req.UV), RequireUV: true})
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	return kiosk.KeyAttestation{AttestationObject: reg.AttestationObject}, nil
}
