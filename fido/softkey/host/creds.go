package host

import (
	"context"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
)

// MakeCredentialArgs are the parameters of authenticatorMakeCredential.
type MakeCredentialArgs struct {
	ClientDataHash []byte
	RPID, RPName   string
	UserID         []byte
	UserName       string
	DisplayName    string
	// Algs defaults to ES256 only.
	Algs        []int64
	Exclude     [][]byte
	RK, UV      bool
	CredProtect int
	// HMACSecret asks for the hmac-secret extension.
	HMACSecret bool
	Token      *Token
	// EmptyPINAuth sends a zero-length pinUvAuthParam (the touch probe).
	EmptyPINAuth bool
}

// Attestation is a makeCredential reply.
type Attestation struct {
	Format   string          `cbor:"1,keyasint"`
	AuthData []byte          `cbor:"2,keyasint"`
	AttStmt  cbor.RawMessage `cbor:"3,keyasint"`
}

// Object is the WebAuthn attestation object made from the reply.
func (a *Attestation) Object() ([]byte, error) {
	return fido.MarshalAttestationObject(a.Format, a.AuthData, a.AttStmt)
}

type descriptor struct {
	Type string `cbor:"type"`
	ID   []byte `cbor:"id"`
}

func descriptors(ids [][]byte) []descriptor {
	var out []descriptor
	for _, id := range ids {
		out = append(out, descriptor{Type: "public-key", ID: id})
	}
	return out
}

// MakeCredential runs authenticatorMakeCredential.
func (c *Client) MakeCredential(ctx context.Context, a MakeCredentialArgs) (*Attestation, error) {
	b, err := c.CBOR(ctx, 0x01, a.request())
	if err != nil {
		return nil, err
	}
	var att Attestation
	if err := cbor.Unmarshal(b, &att); err != nil {
		return nil, err
	}
	return &att, nil
}

// request is the authenticatorMakeCredential parameter map (CTAP 2.1
// §6.1), holding only the optional parameters a asks for.
func (a MakeCredentialArgs) request() map[int]any {
	req := map[int]any{
		0x01: a.ClientDataHash,
		0x02: map[string]any{"id": a.RPID, "name": a.RPName},
		0x03: a.user(),
		0x04: a.params(),
	}
	if len(a.Exclude) > 0 {
		req[0x05] = descriptors(a.Exclude)
	}
	if ext := a.extensions(); len(ext) > 0 {
		req[0x06] = ext
	}
	if opts := a.options(); len(opts) > 0 {
		req[0x07] = opts
	}
	switch {
	case a.EmptyPINAuth:
		req[0x08], req[0x09] = []byte{}, 2
	case a.Token != nil:
		req[0x08], req[0x09] = a.Token.Param(a.ClientDataHash), a.Token.Protocol
	}
	return req
}

// user is the user entity, with name and displayName when given.
func (a MakeCredentialArgs) user() map[string]any {
	user := map[string]any{"id": a.UserID}
	if a.UserName != "" {
		user["name"] = a.UserName
	}
	if a.DisplayName != "" {
		user["displayName"] = a.DisplayName
	}
	return user
}

// params is pubKeyCredParams: Algs, or ES256 alone.
func (a MakeCredentialArgs) params() []map[string]any {
	algs := a.Algs
	if algs == nil {
		algs = []int64{int64(fido.AlgES256)}
	}
	var params []map[string]any
	for _, alg := range algs {
		params = append(params, map[string]any{"alg": alg, "type": "public-key"})
	}
	return params
}

// extensions are the credProtect and hmac-secret inputs asked for.
func (a MakeCredentialArgs) extensions() map[string]any {
	ext := map[string]any{}
	if a.CredProtect != 0 {
		ext["credProtect"] = a.CredProtect
	}
	if a.HMACSecret {
		ext["hmac-secret"] = true
	}
	return ext
}

// options are the rk and uv options asked for.
func (a MakeCredentialArgs) options() map[string]bool {
	opts := map[string]bool{}
	if a.RK {
		opts["rk"] = true
	}
	if a.UV {
		opts["uv"] = true
	}
	return opts
}

// GetAssertionArgs are the parameters of authenticatorGetAssertion.
type GetAssertionArgs struct {
	RPID           string
	ClientDataHash []byte
	Allow          [][]byte
	// NoUP sends the "up" option as false (silent assertion).
	NoUP         bool
	UV           bool
	Token        *Token
	EmptyPINAuth bool
	// HMACSalt (32 or 64 bytes) asks for hmac-secret outputs, under PIN/UV
	// auth protocol HMACProtocol (default 2).
	HMACSalt     []byte
	HMACProtocol int
}

// User is the user entity of an assertion.
type User struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name"`
	DisplayName string `cbor:"displayName"`
}

// Assertion is a getAssertion or getNextAssertion reply.
type Assertion struct {
	Credential          descriptor `cbor:"1,keyasint"`
	AuthData            []byte     `cbor:"2,keyasint"`
	Signature           []byte     `cbor:"3,keyasint"`
	User                *User      `cbor:"4,keyasint"`
	NumberOfCredentials int        `cbor:"5,keyasint"`

	// HMACOutput is the decrypted hmac-secret output, if any.
	HMACOutput []byte `cbor:"-"`
}

// CredentialID is the ID of the credential that signed.
func (a *Assertion) CredentialID() []byte { return a.Credential.ID }

// GetAssertion runs authenticatorGetAssertion.
func (c *Client) GetAssertion(ctx context.Context, a GetAssertionArgs) (*Assertion, error) {
	req := map[int]any{0x01: a.RPID, 0x02: a.ClientDataHash}
	if len(a.Allow) > 0 {
		req[0x03] = descriptors(a.Allow)
	}
	opts := map[string]bool{}
	if a.NoUP {
		opts["up"] = false
	}
	if a.UV {
		opts["uv"] = true
	}
	if len(opts) > 0 {
		req[0x05] = opts
	}
	switch {
	case a.EmptyPINAuth:
		req[0x06], req[0x07] = []byte{}, 2
	case a.Token != nil:
		req[0x06], req[0x07] = a.Token.Param(a.ClientDataHash), a.Token.Protocol
	}
	c.hmac = nil
	if len(a.HMACSalt) > 0 {
		proto := a.HMACProtocol
		if proto == 0 {
			proto = 2
		}
		agr, err := c.keyAgreement(ctx, proto)
		if err != nil {
			return nil, err
		}
		saltEnc, err := agr.p.Encrypt(agr.secret, a.HMACSalt)
		if err != nil {
			return nil, err
		}
		req[0x04] = map[string]any{"hmac-secret": map[int]any{
			1: agr.cose, 2: saltEnc, 3: agr.p.Authenticate(agr.secret, saltEnc), 4: proto,
		}}
		c.hmac = agr
	}
	return c.assertion(ctx, 0x02, req)
}

// GetNextAssertion runs authenticatorGetNextAssertion.
func (c *Client) GetNextAssertion(ctx context.Context) (*Assertion, error) {
	return c.assertion(ctx, 0x08, nil)
}

func (c *Client) assertion(ctx context.Context, cmd byte, req any) (*Assertion, error) {
	b, err := c.CBOR(ctx, cmd, req)
	if err != nil {
		return nil, err
	}
	var as Assertion
	if err := cbor.Unmarshal(b, &as); err != nil {
		return nil, err
	}
	if c.hmac != nil {
		ad, err := fido.ParseAuthData(as.AuthData)
		if err != nil {
			return nil, err
		}
		var ext map[string][]byte
		if ad.Extensions != nil {
			if err := cbor.Unmarshal(ad.Extensions, &ext); err != nil {
				return nil, err
			}
		}
		if enc, ok := ext["hmac-secret"]; ok {
			if as.HMACOutput, err = c.hmac.p.Decrypt(c.hmac.secret, enc); err != nil {
				return nil, err
			}
		}
	}
	return &as, nil
}
