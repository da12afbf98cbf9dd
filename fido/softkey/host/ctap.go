package host

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"

	"passkiosk/fido/cbor"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/internal/pinproto"
)

// CBOR runs one authenticator API command. A non-OK status is returned as
// a softkey.Status error; body is the CBOR after the status byte.
func (c *Client) CBOR(ctx context.Context, cmd byte, req any) ([]byte, error) {
	msg := []byte{cmd}
	if req != nil {
		b, err := cbor.Marshal(req)
		if err != nil {
			return nil, err
		}
		msg = append(msg, b...)
	}
	reply, err := c.Transact(ctx, CmdCBOR, msg)
	if err != nil {
		return nil, err
	}
	if len(reply) == 0 {
		return nil, fmt.Errorf("softkey host: empty CBOR reply")
	}
	if s := softkey.Status(reply[0]); s != softkey.StatusOK {
		return nil, s
	}
	return reply[1:], nil
}

// Info is the part of authenticatorGetInfo tests look at.
type Info struct {
	Versions     []string        `cbor:"1,keyasint"`
	Extensions   []string        `cbor:"2,keyasint"`
	AAGUID       []byte          `cbor:"3,keyasint"`
	Options      map[string]bool `cbor:"4,keyasint"`
	MaxMsgSize   int             `cbor:"5,keyasint"`
	PINProtocols []int           `cbor:"6,keyasint"`
	MinPINLength int             `cbor:"13,keyasint"`
}

// GetInfo runs authenticatorGetInfo.
func (c *Client) GetInfo(ctx context.Context) (*Info, error) {
	b, err := c.CBOR(ctx, 0x04, nil)
	if err != nil {
		return nil, err
	}
	var in Info
	if err := cbor.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// Reset runs authenticatorReset.
func (c *Client) Reset(ctx context.Context) error {
	_, err := c.CBOR(ctx, 0x07, nil)
	return err
}

// PINRetries runs clientPIN getPINRetries.
func (c *Client) PINRetries(ctx context.Context) (int, error) {
	return c.retries(ctx, 0x01, 0x03)
}

// UVRetries runs clientPIN getUVRetries.
func (c *Client) UVRetries(ctx context.Context) (int, error) {
	return c.retries(ctx, 0x07, 0x05)
}

func (c *Client) retries(ctx context.Context, sub, key int) (int, error) {
	b, err := c.CBOR(ctx, 0x06, map[int]any{0x01: 1, 0x02: sub})
	if err != nil {
		return 0, err
	}
	var m map[int]any
	if err := cbor.Unmarshal(b, &m); err != nil {
		return 0, err
	}
	n, ok := m[key].(uint64)
	if !ok {
		return 0, fmt.Errorf("softkey host: reply has no retries: %v", m)
	}
	return int(n), nil
}

// agreement is one run of the platform side of the key agreement.
type agreement struct {
	p      pinproto.Protocol
	cose   cbor.RawMessage
	secret []byte
}

// keyAgreement runs getKeyAgreement and the platform's half of ECDH
// (CTAP 2.1 §6.5.6 encapsulate).
func (c *Client) keyAgreement(ctx context.Context, protocol int) (*agreement, error) {
	p := pinproto.ByVersion(protocol)
	if p == nil {
		return nil, fmt.Errorf("softkey host: no PIN protocol %d", protocol)
	}
	b, err := c.CBOR(ctx, 0x06, map[int]any{0x01: protocol, 0x02: 0x02})
	if err != nil {
		return nil, err
	}
	var m map[int]cbor.RawMessage
	if err := cbor.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	secret, err := pinproto.SharedSecret(p, priv, m[0x01])
	if err != nil {
		return nil, err
	}
	return &agreement{p: p, cose: pinproto.EncodeKey(priv.PublicKey()), secret: secret}, nil
}

// SetPIN runs clientPIN setPIN.
func (c *Client) SetPIN(ctx context.Context, protocol int, pin string) error {
	a, err := c.keyAgreement(ctx, protocol)
	if err != nil {
		return err
	}
	newEnc, err := encryptPIN(a, pin)
	if err != nil {
		return err
	}
	_, err = c.CBOR(ctx, 0x06, map[int]any{
		0x01: protocol, 0x02: 0x03, 0x03: a.cose,
		0x04: a.p.Authenticate(a.secret, newEnc), 0x05: newEnc,
	})
	return err
}

// ChangePIN runs clientPIN changePIN.
func (c *Client) ChangePIN(ctx context.Context, protocol int, oldPIN, newPIN string) error {
	a, err := c.keyAgreement(ctx, protocol)
	if err != nil {
		return err
	}
	newEnc, err := encryptPIN(a, newPIN)
	if err != nil {
		return err
	}
	hashEnc, err := a.p.Encrypt(a.secret, pinproto.PINHash([]byte(oldPIN)))
	if err != nil {
		return err
	}
	_, err = c.CBOR(ctx, 0x06, map[int]any{
		0x01: protocol, 0x02: 0x04, 0x03: a.cose,
		0x04: a.p.Authenticate(a.secret, append(append([]byte(nil), newEnc...), hashEnc...)),
		0x05: newEnc, 0x06: hashEnc,
	})
	return err
}

func encryptPIN(a *agreement, pin string) ([]byte, error) {
	padded, err := pinproto.PadPIN([]byte(pin))
	if err != nil {
		return nil, err
	}
	return a.p.Encrypt(a.secret, padded)
}

// Token is a pinUvAuthToken and the protocol it was obtained with.
type Token struct {
	Protocol int
	Value    []byte
}

// Param is the pinUvAuthParam for a client data hash.
func (t *Token) Param(clientDataHash []byte) []byte {
	return pinproto.ByVersion(t.Protocol).Authenticate(t.Value, clientDataHash)
}

// PINToken obtains a token with the PIN: getPinUvAuthTokenUsingPinWith-
// Permissions, or the legacy getPinToken when perms is 0.
func (c *Client) PINToken(ctx context.Context, protocol int, pin string, perms int, rpID string) (*Token, error) {
	return c.PINTokenBytes(ctx, protocol, []byte(pin), perms, rpID)
}

// PINTokenBytes is PINToken with the PIN in bytes, for callers that wipe
// it afterwards (a Go string cannot be wiped). Only the PIN's hash
// (CTAP 2.1 §6.5.5.7) is kept, and wiped once it is encrypted.
func (c *Client) PINTokenBytes(ctx context.Context, protocol int, pin []byte, perms int, rpID string) (*Token, error) {
	a, err := c.keyAgreement(ctx, protocol)
	if err != nil {
		return nil, err
	}
	pinHash := pinproto.PINHash(pin)
	hashEnc, err := a.p.Encrypt(a.secret, pinHash)
	clear(pinHash)
	if err != nil {
		return nil, err
	}
	req := map[int]any{0x01: protocol, 0x02: 0x05, 0x03: a.cose, 0x06: hashEnc}
	if perms != 0 {
		req[0x02], req[0x09], req[0x0a] = 0x09, perms, rpID
	}
	return c.token(ctx, a, req)
}

// UVToken obtains a token with the built-in fingerprint sensor
// (getPinUvAuthTokenUsingUvWithPermissions).
func (c *Client) UVToken(ctx context.Context, protocol int, perms int, rpID string) (*Token, error) {
	a, err := c.keyAgreement(ctx, protocol)
	if err != nil {
		return nil, err
	}
	return c.token(ctx, a, map[int]any{0x01: protocol, 0x02: 0x06, 0x03: a.cose, 0x09: perms, 0x0a: rpID})
}

func (c *Client) token(ctx context.Context, a *agreement, req map[int]any) (*Token, error) {
	b, err := c.CBOR(ctx, 0x06, req)
	if err != nil {
		return nil, err
	}
	var m map[int][]byte
	if err := cbor.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	tok, err := a.p.Decrypt(a.secret, m[0x02])
	if err != nil {
		return nil, err
	}
	if len(tok) != 32 {
		return nil, fmt.Errorf("softkey host: token of %d bytes", len(tok))
	}
	return &Token{Protocol: a.p.Version(), Value: tok}, nil
}
