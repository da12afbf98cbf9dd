package softkey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

const (
	testRP     = "kiosk.example"
	testOrigin = "https://kiosk.example"
	testPIN    = "4711"
)

// fastConfig keeps waits short so that tests of timeouts stay quick.
func fastConfig(cfg softkey.Config) softkey.Config {
	if cfg.TouchTimeout == 0 {
		cfg.TouchTimeout = 2 * time.Second
	}
	if cfg.KeepaliveInterval == 0 {
		cfg.KeepaliveInterval = 20 * time.Millisecond
	}
	if cfg.MessageTimeout == 0 {
		cfg.MessageTimeout = 200 * time.Millisecond
	}
	return cfg
}

// rig is a key plugged into a host with one open channel.
type rig struct {
	t    *testing.T
	key  *softkey.Key
	conn *softkey.Conn
	c    *host.Client
}

func newRig(t *testing.T, cfg softkey.Config) *rig {
	t.Helper()
	k, err := softkey.New(fastConfig(cfg))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := &rig{t: t, key: k}
	r.plug()
	return r
}

// plug (re)attaches the key and opens a channel.
func (r *rig) plug() {
	r.t.Helper()
	r.conn = r.key.Plug()
	r.t.Cleanup(r.conn.Unplug)
	c, err := host.Open(ctx(r.t), r.conn)
	if err != nil {
		r.t.Fatalf("CTAPHID_INIT: %v", err)
	}
	r.c = c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// ceremony is one relying-party ceremony: its challenge and client data.
type ceremony struct {
	ch   fido.Challenge
	cdj  []byte
	hash []byte
}

func newCeremony(t *testing.T, typ string) ceremony {
	t.Helper()
	ch, err := fido.NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	cdj := fido.ClientDataJSON(typ, ch, testOrigin)
	h := fido.ClientDataHash(cdj)
	return ceremony{ch: ch, cdj: cdj, hash: h[:]}
}

// register makes a credential and verifies it as a relying party that
// trusts the key's attestation CA.
func (r *rig) register(args host.MakeCredentialArgs, requireUV bool) *fido.Registration {
	r.t.Helper()
	reg, err := r.tryRegister(args, requireUV)
	if err != nil {
		r.t.Fatalf("register: %v", err)
	}
	return reg
}

func (r *rig) tryRegister(args host.MakeCredentialArgs, requireUV bool) (*fido.Registration, error) {
	cer := newCeremony(r.t, fido.TypeCreate)
	args.ClientDataHash = cer.hash
	if args.RPID == "" {
		args.RPID = testRP
	}
	if args.UserID == nil {
		args.UserID = []byte("user-1")
	}
	if args.Token != nil && args.Token.Value == nil {
		args.Token = nil
	}
	att, err := r.c.MakeCredential(ctx(r.t), args)
	if err != nil {
		return nil, err
	}
	obj, err := att.Object()
	if err != nil {
		return nil, err
	}
	return fido.VerifyRegistration(fido.RegistrationInput{
		RPID: testRP, Origin: testOrigin, Challenge: cer.ch,
		ClientDataJSON: cer.cdj, AttestationObject: obj, RequireUV: requireUV,
		TrustAnchors: r.key.AttestationRoots(), RequireTrustedAttestation: true,
	})
}

// assert gets an assertion and verifies it against the stored credential.
func (r *rig) assert(args host.GetAssertionArgs, cred *fido.StoredCredential, requireUV bool) (*host.Assertion, *fido.AssertionResult, error) {
	r.t.Helper()
	cer := newCeremony(r.t, fido.TypeGet)
	args.ClientDataHash = cer.hash
	if args.RPID == "" {
		args.RPID = testRP
	}
	as, err := r.c.GetAssertion(ctx(r.t), args)
	if err != nil {
		return nil, nil, err
	}
	res, err := verifyAssertion(cer, as, cred, requireUV)
	return as, res, err
}

func verifyAssertion(cer ceremony, as *host.Assertion, cred *fido.StoredCredential, requireUV bool) (*fido.AssertionResult, error) {
	var uh []byte
	if as.User != nil {
		uh = as.User.ID
	}
	return fido.VerifyAssertion(fido.AssertionInput{
		RPID: testRP, Origin: testOrigin, Challenge: cer.ch, Credential: *cred,
		CredentialID: as.CredentialID(), AuthData: as.AuthData, ClientDataJSON: cer.cdj,
		Signature: as.Signature, UserHandle: uh, RequireUV: requireUV,
	})
}

func stored(reg *fido.Registration) *fido.StoredCredential {
	return &fido.StoredCredential{ID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter}
}

// wantStatus fails unless err is the CTAP status want.
func wantStatus(t *testing.T, err error, want softkey.Status) {
	t.Helper()
	var s softkey.Status
	if !errors.As(err, &s) || s != want {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func asStatus(err error, s *softkey.Status) bool { return errors.As(err, s) }
