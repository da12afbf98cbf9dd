package kiosktest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

// Key is a fake security key: real signatures (fidotest.Authenticator per
// account), CTAP's PIN retry rules, a fingerprint sensor, and switches.
type Key struct {
	Info kiosk.KeyInfo
	name string // NewKey's id; each plug-in's ID starts with it

	mu          sync.Mutex
	pin         string
	pinRetries  int
	inARow      int
	uvRetries   int
	Fingerprint bool // next fingerprint attempts match
	// Hang makes operations wait for their context (no touch).
	Hang bool
	// Err, when set, is returned by the next operation.
	Err      error
	accounts []*account
	touched  chan struct{}
	failed   chan error
	// asked counts touch-only requests started (tap to sign out).
	asked int

	// IgnoreExclude makes the key ignore MakeCredential's exclude list,
	// as some keys do, and answer with the credential it already holds
	// for that account (the same ID) instead of refusing.
	IgnoreExclude bool
}

type account struct {
	auth   *fidotest.Authenticator
	rpID   string
	userID []byte
	name   string
}

// NewKey returns a key with a PIN (empty: none) and optionally a
// fingerprint sensor.
func NewKey(id, pin string, fingerprint bool) *Key {
	k := &Key{pin: pin, pinRetries: 8, uvRetries: 5, Fingerprint: true, touched: make(chan struct{}), failed: make(chan error)}
	k.name = id
	k.Info = kiosk.KeyInfo{ID: id, Product: "Fake key " + id, HasPIN: pin != "", HasFingerprint: fingerprint}
	copy(k.Info.AAGUID[:], "fake-key-aaguid!")
	return k
}

// PINRetries is the key's remaining PIN tries.
func (k *Key) PINRetries() int { k.mu.Lock(); defer k.mu.Unlock(); return k.pinRetries }

// Replug clears the power-cycle block (three wrong PINs in a row).
func (k *Key) Replug() { k.mu.Lock(); defer k.mu.Unlock(); k.inARow = 0 }

// RenameAccount changes the user name and display name the key sends
// for account i, as a key whose accounts were edited elsewhere (or that
// lies) would: neither is signed.
func (k *Key) RenameAccount(i int, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.accounts[i].name = name
}

// Authenticator returns the account's test authenticator, to misbehave.
func (k *Key) Authenticator(i int) *fidotest.Authenticator { return k.accounts[i].auth }

// Touch touches the key: it answers a touch-only request that is waiting,
// and reports whether one was.
func (k *Key) Touch() bool {
	select {
	case k.touched <- struct{}{}:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

// FailTouch makes a touch-only request that is waiting fail with err, as
// a key that misbehaves while it waits, and reports whether one was
// waiting.
func (k *Key) FailTouch(err error) bool {
	select {
	case k.failed <- err:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

// Waiting reports the touch-only requests started so far.
func (k *Key) Waiting() int { k.mu.Lock(); defer k.mu.Unlock(); return k.asked }

// verifyLocked plays the key's side of uv: a touch for a touch-only
// request, else the switches, then the fingerprint or the PIN with their
// retry rules. k.mu is held, and let go while the key waits.
func (k *Key) verifyLocked(ctx context.Context, uv kiosk.UV) error {
	if uv.PresenceOnly() {
		return k.awaitTouchLocked(ctx)
	}
	if k.Hang {
		k.mu.Unlock()
		<-ctx.Done()
		k.mu.Lock()
		return kiosk.E(kiosk.KindTimeout, "fake key", ctx.Err())
	}
	if err := k.Err; err != nil {
		k.Err = nil
		return err
	}
	if uv.Fingerprint {
		return k.fingerprintLocked()
	}
	return k.pinLocked(uv.PIN)
}

// awaitTouchLocked blinks until the key is touched (Touch), fails
// (FailTouch), or the caller gives up.
func (k *Key) awaitTouchLocked(ctx context.Context) error {
	k.asked++
	k.mu.Unlock()
	defer k.mu.Lock()
	select {
	case <-k.touched:
		return nil
	case err := <-k.failed:
		return err
	case <-ctx.Done():
		return kiosk.E(kiosk.KindTimeout, "fake key", ctx.Err())
	}
}

// fingerprintLocked matches the finger (Fingerprint) with five tries.
func (k *Key) fingerprintLocked() error {
	if !k.Info.HasFingerprint {
		return kiosk.Errorf(kiosk.KindDevice, "fake key", "no fingerprint sensor")
	}
	if k.uvRetries == 0 {
		return kiosk.Errorf(kiosk.KindUVBlocked, "fake key", "fingerprint blocked")
	}
	if !k.Fingerprint {
		k.uvRetries--
		if k.uvRetries == 0 {
			return kiosk.Errorf(kiosk.KindUVBlocked, "fake key", "fingerprint blocked")
		}
		return kiosk.WithTries(kiosk.KindUVInvalid, "fake key", k.uvRetries, fmt.Errorf("no match"))
	}
	k.uvRetries = 5
	return nil
}

// pinLocked checks pin with CTAP's retry rules: eight tries in all, and a
// re-plug needed after three wrong in a row.
func (k *Key) pinLocked(pin []byte) error {
	switch {
	case k.pinRetries == 0:
		return kiosk.Errorf(kiosk.KindPINBlocked, "fake key", "PIN blocked")
	case k.inARow >= 3:
		return kiosk.Errorf(kiosk.KindPINAuthBlocked, "fake key", "re-plug")
	case string(pin) != k.pin:
		k.pinRetries--
		k.inARow++
		if k.pinRetries == 0 {
			return kiosk.Errorf(kiosk.KindPINBlocked, "fake key", "PIN blocked")
		}
		if k.inARow >= 3 {
			return kiosk.Errorf(kiosk.KindPINAuthBlocked, "fake key", "re-plug")
		}
		return kiosk.WithTries(kiosk.KindPINInvalid, "fake key", k.pinRetries, fmt.Errorf("wrong PIN"))
	}
	k.pinRetries, k.inARow = 8, 0
	return nil
}

func (k *Key) assert(ctx context.Context, req kiosk.AssertRequest) ([]kiosk.KeyAssertion, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.verifyLocked(ctx, req.UV); err != nil {
		return nil, err
	}
	var out []kiosk.KeyAssertion
	for _, a := range k.accounts {
		if a.rpID != req.RPID {
			continue
		}
		if len(req.AllowList) > 0 && !containsID(req.AllowList, a.auth.CredID) {
			continue
		}
		flags := a.auth.Flags
		if req.UV.PresenceOnly() {
			a.auth.Flags &^= fido.FlagUV
		}
		ad, sig := a.auth.GetAssertionHash(req.RPID, req.ClientDataHash)
		a.auth.Flags = flags
		out = append(out, kiosk.KeyAssertion{CredentialID: a.auth.CredID, AuthData: ad, Signature: sig,
			UserHandle: a.userID, UserName: a.name, DisplayName: a.name})
	}
	if len(out) == 0 {
		return nil, kiosk.Errorf(kiosk.KindNoCredentials, "fake key", "no credentials")
	}
	return out, nil
}

func (k *Key) makeCredential(ctx context.Context, req kiosk.MakeCredentialRequest) (kiosk.KeyAttestation, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.verifyLocked(ctx, req.UV); err != nil {
		return kiosk.KeyAttestation{}, err
	}
	for _, a := range k.accounts {
		if !containsID(req.Exclude, a.auth.CredID) {
			continue
		}
		if !k.IgnoreExclude {
			return kiosk.KeyAttestation{}, kiosk.Errorf(kiosk.KindExcluded, "fake key", "excluded")
		}
		if a.rpID == req.RPID && bytes.Equal(a.userID, req.UserID) {
			return kiosk.KeyAttestation{AttestationObject: a.auth.MakeCredentialHash(req.RPID, req.ClientDataHash)}, nil
		}
	}
	auth := fidotest.NewAuthenticator(fido.AlgES256)
	auth.AAGUID = k.Info.AAGUID
	k.accounts = append(k.accounts, &account{auth: auth, rpID: req.RPID, userID: req.UserID, name: req.UserName})
	return kiosk.KeyAttestation{AttestationObject: auth.MakeCredentialHash(req.RPID, req.ClientDataHash)}, nil
}

func containsID(list [][]byte, id []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, id) {
			return true
		}
	}
	return false
}

// Keys is a fake RoamingKeys port.
type Keys struct {
	mu     sync.Mutex
	plugs  int
	keys   map[string]*Key
	events chan kiosk.KeyEvent
}

func NewKeys() *Keys {
	return &Keys{keys: map[string]*Key{}, events: make(chan kiosk.KeyEvent, 16)}
}

// Plug plugs k in and sends the event. As a real adapter does, each
// plug-in gets an ID of its own (the key's name, "@" and a count).
func (ks *Keys) Plug(k *Key) {
	ks.mu.Lock()
	ks.plugs++
	k.Info.ID = fmt.Sprintf("%s@%d", k.name, ks.plugs)
	ks.keys[k.Info.ID] = k
	ks.mu.Unlock()
	ks.events <- kiosk.KeyEvent{Type: kiosk.KeyPlugged, Key: k.Info}
}

// Unplug removes k and sends the event.
func (ks *Keys) Unplug(k *Key) {
	ks.mu.Lock()
	delete(ks.keys, k.Info.ID)
	ks.mu.Unlock()
	ks.events <- kiosk.KeyEvent{Type: kiosk.KeyRemoved, Key: k.Info}
}

func (ks *Keys) Events() <-chan kiosk.KeyEvent { return ks.events }

func (ks *Keys) Present() []kiosk.KeyInfo {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var out []kiosk.KeyInfo
	for _, k := range ks.keys {
		out = append(out, k.Info)
	}
	return out
}

func (ks *Keys) key(id string) (*Key, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, ok := ks.keys[id]
	if !ok {
		return nil, kiosk.Errorf(kiosk.KindDeviceGone, "fake key", "key %s is not plugged in", id)
	}
	return k, nil
}

func (ks *Keys) Assert(ctx context.Context, id string, req kiosk.AssertRequest) ([]kiosk.KeyAssertion, error) {
	k, err := ks.key(id)
	if err != nil {
		return nil, err
	}
	return k.assert(ctx, req)
}

func (ks *Keys) MakeCredential(ctx context.Context, id string, req kiosk.MakeCredentialRequest) (kiosk.KeyAttestation, error) {
	k, err := ks.key(id)
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	return k.makeCredential(ctx, req)
}
