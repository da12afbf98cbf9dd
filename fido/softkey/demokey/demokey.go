// Package demokey is the demo's virtual security key as the engine sees
// it: the kiosk.RoamingKeys port over a softkey.Key in the same process,
// spoken to through CTAPHID and CTAP 2.1 with the softkey host client, as
// a USB host would, with one translation of the key's CTAP status codes
// into kiosk kinds (translate). The demo's panel plugs, unplugs and
// touches it. Production talks to real keys through fido/usbkey.
package demokey

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
	"passkiosk/kiosk"
)

// Keys presents the demo's virtual security key (fido/softkey, in
// this process) to the engine as the kiosk.RoamingKeys port. It speaks
// CTAPHID and CTAP 2.1 to the key exactly as a USB host does, with the
// softkey host client; what the key returns is verified by the engine like
// anything from fido/usbkey. Production uses fido/usbkey over libfido2.
type Keys struct {
	key    *softkey.Key
	events chan kiosk.KeyEvent

	mu    sync.Mutex
	conn  *softkey.Conn
	info  kiosk.KeyInfo
	plugs int
	// mode is how the panel says the person answers a touch request
	// during a sign-in; a touch-only request (tap to sign out) waits for
	// the panel's Touch button whatever the mode.
	mode        softkey.TouchMode
	delay       time.Duration
	waitingTaps int
}

var _ kiosk.RoamingKeys = (*Keys)(nil)

// New presents key, not yet plugged in.
func New(key *softkey.Key) *Keys {
	return &Keys{key: key, events: make(chan kiosk.KeyEvent, 8)}
}

func (v *Keys) Events() <-chan kiosk.KeyEvent { return v.events }

func (v *Keys) Present() []kiosk.KeyInfo {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == nil {
		return nil
	}
	return []kiosk.KeyInfo{v.info}
}

func (v *Keys) Plugged() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.conn != nil
}

// Plug plugs the key in: a fresh power cycle, and a getInfo to describe it.
func (v *Keys) Plug() {
	v.mu.Lock()
	if v.conn != nil {
		v.mu.Unlock()
		return
	}
	v.conn = v.key.Plug()
	v.plugs++
	conn, id := v.conn, fmt.Sprintf("virtual-key/%d", v.plugs)
	v.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info := kiosk.KeyInfo{ID: id, Product: "passkiosk virtual security key"}
	if c, err := host.Open(ctx, conn); err == nil {
		if gi, err := c.GetInfo(ctx); err == nil {
			copy(info.AAGUID[:], gi.AAGUID)
			info.HasPIN = gi.Options["clientPin"]
			info.HasFingerprint = gi.Options["uv"]
		}
	}
	v.mu.Lock()
	v.info = info
	v.mu.Unlock()
	v.events <- kiosk.KeyEvent{Type: kiosk.KeyPlugged, Key: info}
}

// Unplug pulls the key out; an operation under way fails as the key gone.
func (v *Keys) Unplug() {
	v.mu.Lock()
	conn, info := v.conn, v.info
	v.conn = nil
	v.mu.Unlock()
	if conn == nil {
		return
	}
	conn.Unplug()
	v.events <- kiosk.KeyEvent{Type: kiosk.KeyRemoved, Key: info}
}

// SetTouch sets how the person answers a touch request during a sign-in
// or enrollment: touched after delay, refused, or never.
func (v *Keys) SetTouch(mode softkey.TouchMode, delay time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.mode, v.delay = mode, delay
	if v.waitingTaps == 0 {
		v.key.SetTouch(v.mode, v.delay)
	}
}

// Touch is the panel's touch button: it answers a request waiting for a
// touch, such as tap to sign out.
func (v *Keys) Touch() { v.key.Touch() }

// awaitTap makes the key wait for the Touch button for a touch-only
// request; the returned function puts the panel's mode back.
func (v *Keys) awaitTap() func() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.waitingTaps++
	v.key.SetTouch(softkey.TouchNever, 0)
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.waitingTaps--; v.waitingTaps == 0 {
			v.key.SetTouch(v.mode, v.delay)
		}
	}
}

func (v *Keys) SetFingerprint(match bool) { v.key.SetFingerprint(match) }

// client opens a CTAPHID channel on the key if it is the one asked for.
func (v *Keys) client(ctx context.Context, id string) (*host.Client, error) {
	v.mu.Lock()
	conn, info := v.conn, v.info
	v.mu.Unlock()
	if conn == nil || info.ID != id {
		return nil, kiosk.Errorf(kiosk.KindDeviceGone, "virtual key", "the key is not plugged in")
	}
	c, err := host.Open(ctx, conn)
	if err != nil {
		return nil, v.translate(ctx, nil, err)
	}
	// As libfido2 does: reports for other channels (another host's) are
	// not ours.
	c.SkipOtherChannels = true
	return c, nil
}

// token gets a PIN/UV auth token (protocol 2) for the permissions.
func (v *Keys) token(ctx context.Context, c *host.Client, uv kiosk.UV, perm int, rpID string) (*host.Token, error) {
	var tok *host.Token
	var err error
	if uv.Fingerprint {
		tok, err = c.UVToken(ctx, 2, perm, rpID)
	} else {
		tok, err = c.PINTokenBytes(ctx, 2, uv.PIN, perm, rpID)
	}
	if err != nil {
		return nil, v.translate(ctx, c, err)
	}
	return tok, nil
}

func (v *Keys) Assert(ctx context.Context, id string, req kiosk.AssertRequest) ([]kiosk.KeyAssertion, error) {
	c, err := v.client(ctx, id)
	if err != nil {
		return nil, err
	}
	var tok *host.Token
	if req.UV.PresenceOnly() {
		defer v.awaitTap()()
	} else if tok, err = v.token(ctx, c, req.UV, softkey.PermGetAssertion, req.RPID); err != nil {
		return nil, err
	}
	a, err := c.GetAssertion(ctx, host.GetAssertionArgs{RPID: req.RPID, ClientDataHash: req.ClientDataHash[:], Allow: req.AllowList, Token: tok})
	if err != nil {
		return nil, v.translate(ctx, c, err)
	}
	out := []kiosk.KeyAssertion{keyAssertion(a)}
	for i := 1; i < a.NumberOfCredentials && i < 32; i++ {
		next, err := c.GetNextAssertion(ctx)
		if err != nil {
			return nil, v.translate(ctx, c, err)
		}
		out = append(out, keyAssertion(next))
	}
	return out, nil
}

func keyAssertion(a *host.Assertion) kiosk.KeyAssertion {
	ka := kiosk.KeyAssertion{CredentialID: a.CredentialID(), AuthData: a.AuthData, Signature: a.Signature}
	if a.User != nil {
		ka.UserHandle, ka.UserName, ka.DisplayName = a.User.ID, a.User.Name, a.User.DisplayName
	}
	return ka
}

func (v *Keys) MakeCredential(ctx context.Context, id string, req kiosk.MakeCredentialRequest) (kiosk.KeyAttestation, error) {
	c, err := v.client(ctx, id)
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	tok, err := v.token(ctx, c, req.UV, softkey.PermMakeCredential, req.RPID)
	if err != nil {
		return kiosk.KeyAttestation{}, err
	}
	att, err := c.MakeCredential(ctx, host.MakeCredentialArgs{
		ClientDataHash: req.ClientDataHash[:], RPID: req.RPID, RPName: req.RPName,
		UserID: req.UserID, UserName: req.UserName, DisplayName: req.DisplayName,
		Exclude: req.Exclude, RK: true, Token: tok,
	})
	if err != nil {
		return kiosk.KeyAttestation{}, v.translate(ctx, c, err)
	}
	obj, err := att.Object()
	if err != nil {
		return kiosk.KeyAttestation{}, kiosk.E(kiosk.KindDevice, "virtual key", err)
	}
	return kiosk.KeyAttestation{AttestationObject: obj}, nil
}

// hidChannelBusy is CTAPHID's ERR_CHANNEL_BUSY (CTAP 2.1 §11.2.9.1.6):
// the key is working on another channel's request.
const hidChannelBusy host.HIDError = 0x06

// translate turns CTAP status codes into kiosk kinds, in one place, with
// the tries left where the key can tell them.
func (v *Keys) translate(ctx context.Context, c *host.Client, err error) error {
	const op = "virtual key"
	if kiosk.KindOf(err) != kiosk.KindUnknown {
		return err
	}
	if ctx.Err() != nil {
		// The client cancelled the request on the key already
		// (host.Client.Transact).
		return kiosk.E(kiosk.KindTimeout, op, err)
	}
	var he host.HIDError
	if errors.As(err, &he) && he == hidChannelBusy {
		return kiosk.E(kiosk.KindDeviceBusy, op, err)
	}
	var st softkey.Status
	if !errors.As(err, &st) {
		return kiosk.E(kiosk.KindDevice, op, err)
	}
	tries := func(get func(context.Context) (int, error)) int {
		if c == nil {
			return -1
		}
		n, err := get(ctx)
		if err != nil {
			return -1
		}
		return n
	}
	switch st {
	case softkey.StatusPINInvalid:
		return kiosk.WithTries(kiosk.KindPINInvalid, op, tries(c.PINRetries), err)
	case softkey.StatusPINAuthBlocked:
		return kiosk.E(kiosk.KindPINAuthBlocked, op, err)
	case softkey.StatusPINBlocked:
		return kiosk.E(kiosk.KindPINBlocked, op, err)
	case softkey.StatusPINNotSet:
		return kiosk.E(kiosk.KindPINNotSet, op, err)
	case softkey.StatusUVInvalid:
		return kiosk.WithTries(kiosk.KindUVInvalid, op, tries(c.UVRetries), err)
	case softkey.StatusUVBlocked:
		return kiosk.E(kiosk.KindUVBlocked, op, err)
	case softkey.StatusNoCredentials:
		return kiosk.E(kiosk.KindNoCredentials, op, err)
	case softkey.StatusCredentialExcluded:
		return kiosk.E(kiosk.KindExcluded, op, err)
	case softkey.StatusOperationDenied:
		return kiosk.E(kiosk.KindNotAllowed, op, err)
	case softkey.StatusUserActionTimeout:
		return kiosk.E(kiosk.KindTimeout, op, err)
	case softkey.StatusKeepaliveCancel:
		return kiosk.E(kiosk.KindCancelled, op, err)
	}
	return kiosk.E(kiosk.KindDevice, op, err)
}
