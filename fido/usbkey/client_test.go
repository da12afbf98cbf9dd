package usbkey

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/hidtest"
	"passkiosk/kiosk"
)

// The adapter reaches keys only through libfido2, which sees the virtual
// keys only under umockdev's preload, so every adapter call in these tests
// runs in a client process (this test binary, re-executed by hidtest) and
// the test process holds the keys. The handlers below are the client side.

func TestMain(m *testing.M) {
	if hidtest.IsClient() {
		hidtest.ServeClient(clientHandlers)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	testRP     = "kiosk.example"
	testOrigin = "https://kiosk.example"
)

type registerIn struct {
	Path         string
	UserID       []byte
	Name         string
	Discoverable bool
	PIN          string // "" offers no PIN
	RequireUV    bool
	RootDER      []byte // attestation trust anchor
	Exclude      [][]byte
	UserTimeout  time.Duration
}

type registerOut struct {
	CredentialID []byte
	PublicKey    []byte
	Counter      uint32
	AAGUID       fido.AAGUID
	Trusted      bool
	Format       string
	Method       string
	PINAsked     bool
}

type storedCred struct {
	ID, PublicKey, UserHandle []byte
	Counter                   uint32
}

type signInIn struct {
	Path        string
	PIN         string
	PINHangs    bool // the PIN prompt waits until the call is cancelled
	AllowList   [][]byte
	Known       []storedCred
	RequireUV   bool
	Presence    bool // PresenceOnly
	UserTimeout time.Duration
}

type accountOut struct {
	CredentialID, UserHandle []byte
	UserName, DisplayName    string
	Counter                  uint32
	UV                       bool
}

type signInOut struct {
	Accounts []accountOut
	Method   string
	PINAsked bool
}

func pinFunc(pin string, asked *atomic.Bool) PINFunc {
	if pin == "" {
		return nil
	}
	return func(ctx context.Context) ([]byte, error) {
		asked.Store(true)
		return []byte(pin), nil
	}
}

func decode[T any](in json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(in, &v)
	return v, err
}

var clientHandlers = map[string]hidtest.Handler{
	"info": func(ctx context.Context, raw json.RawMessage) (any, error) {
		path, err := decode[string](raw)
		if err != nil {
			return nil, err
		}
		d, err := Open(path, Options{})
		if err != nil {
			return nil, err
		}
		return d.Info(ctx)
	},
	"retries": func(ctx context.Context, raw json.RawMessage) (any, error) {
		path, err := decode[string](raw)
		if err != nil {
			return nil, err
		}
		d, err := Open(path, Options{})
		if err != nil {
			return nil, err
		}
		pin, err := d.PINRetries(ctx)
		if err != nil {
			return nil, err
		}
		uv, err := d.UVRetries(ctx)
		if err != nil {
			return nil, err
		}
		return [2]int{pin, uv}, nil
	},
	"register": func(ctx context.Context, raw json.RawMessage) (any, error) {
		in, err := decode[registerIn](raw)
		if err != nil {
			return nil, err
		}
		d, err := Open(in.Path, Options{UserTimeout: in.UserTimeout})
		if err != nil {
			return nil, err
		}
		ch, err := fido.NewChallenge()
		if err != nil {
			return nil, err
		}
		var roots *x509.CertPool
		if in.RootDER != nil {
			root, err := x509.ParseCertificate(in.RootDER)
			if err != nil {
				return nil, err
			}
			roots = x509.NewCertPool()
			roots.AddCert(root)
		}
		var asked atomic.Bool
		cd := fido.ClientDataJSON(fido.TypeCreate, ch, testOrigin)
		made, err := d.Register(ctx, RegisterRequest{
			RPID: testRP, RPName: "Kiosk", ClientDataHash: fido.ClientDataHash(cd),
			User:         User{ID: in.UserID, Name: in.Name, DisplayName: in.Name},
			Discoverable: in.Discoverable, PIN: pinFunc(in.PIN, &asked), RequireUV: in.RequireUV, Exclude: in.Exclude,
		})
		if err != nil {
			return nil, err
		}
		// The caller verifies, as the engine does.
		reg, err := fido.VerifyRegistration(fido.RegistrationInput{
			RPID: testRP, Origin: testOrigin, Challenge: ch, ClientDataJSON: cd,
			AttestationObject: made.AttestationObject, RequireUV: in.RequireUV || made.Method != MethodPresence,
			TrustAnchors: roots, RequireTrustedAttestation: roots != nil,
		})
		if err != nil {
			return nil, err
		}
		return registerOut{
			CredentialID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter,
			AAGUID: reg.AAGUID, Trusted: reg.Trusted, Format: reg.Format,
			Method: made.Method.String(), PINAsked: asked.Load(),
		}, nil
	},
	"signin": func(ctx context.Context, raw json.RawMessage) (any, error) {
		in, err := decode[signInIn](raw)
		if err != nil {
			return nil, err
		}
		d, err := Open(in.Path, Options{UserTimeout: in.UserTimeout})
		if err != nil {
			return nil, err
		}
		ch, err := fido.NewChallenge()
		if err != nil {
			return nil, err
		}
		var asked atomic.Bool
		askPIN := pinFunc(in.PIN, &asked)
		if in.PINHangs {
			askPIN = func(ctx context.Context) ([]byte, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		cd := fido.ClientDataJSON(fido.TypeGet, ch, testOrigin)
		res, err := d.SignIn(ctx, SignInRequest{
			RPID: testRP, ClientDataHash: fido.ClientDataHash(cd), AllowList: in.AllowList,
			PIN: askPIN, RequireUV: in.RequireUV, PresenceOnly: in.Presence,
		})
		if err != nil {
			return nil, err
		}
		// The caller verifies each account against its records, as the
		// engine does, and leaves out credentials it does not know.
		out := signInOut{Method: res.Method.String(), PINAsked: asked.Load()}
		for _, a := range res.Accounts {
			i := slices.IndexFunc(in.Known, func(c storedCred) bool { return string(c.ID) == string(a.CredentialID) })
			if i < 0 {
				continue
			}
			c := in.Known[i]
			v, err := fido.VerifyAssertion(fido.AssertionInput{
				RPID: testRP, Origin: testOrigin, Challenge: ch,
				Credential:   fido.StoredCredential{ID: c.ID, PublicKey: c.PublicKey, Counter: c.Counter, UserHandle: c.UserHandle},
				CredentialID: a.CredentialID, AuthData: a.AuthData, ClientDataJSON: cd, Signature: a.Signature,
				UserHandle: a.UserHandle, RequireUV: in.RequireUV || res.Method != MethodPresence,
			})
			if err != nil {
				return nil, err
			}
			out.Accounts = append(out.Accounts, accountOut{
				CredentialID: a.CredentialID, UserHandle: a.UserHandle,
				UserName: a.UserName, DisplayName: a.DisplayName,
				Counter: v.Counter, UV: v.Flags.Has(fido.FlagUV),
			})
		}
		if len(out.Accounts) == 0 {
			return nil, kiosk.E(kiosk.KindNoCredentials, "sign in", errors.New("the key holds no credential enrolled here"))
		}
		return out, nil
	},
}
