package usbkey

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
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
		reg, err := d.Register(ctx, RegisterRequest{
			RPID: testRP, RPName: "Kiosk", Origin: testOrigin, Challenge: ch,
			User:         User{ID: in.UserID, Name: in.Name, DisplayName: in.Name},
			Discoverable: in.Discoverable, PIN: pinFunc(in.PIN, &asked), RequireUV: in.RequireUV, Exclude: in.Exclude,
			TrustAnchors: roots, RequireTrustedAttestation: roots != nil,
		})
		if err != nil {
			return nil, err
		}
		return registerOut{
			CredentialID: reg.CredentialID, PublicKey: reg.PublicKey, Counter: reg.Counter,
			AAGUID: reg.AAGUID, Trusted: reg.Trusted, Format: reg.Format,
			Method: reg.Method.String(), PINAsked: asked.Load(),
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
		res, err := d.SignIn(ctx, SignInRequest{
			RPID: testRP, Origin: testOrigin, Challenge: ch, AllowList: in.AllowList,
			PIN: askPIN, RequireUV: in.RequireUV, PresenceOnly: in.Presence,
			Lookup: func(id, userHandle []byte) (fido.StoredCredential, error) {
				for _, c := range in.Known {
					if string(c.ID) == string(id) {
						return fido.StoredCredential{ID: c.ID, PublicKey: c.PublicKey, Counter: c.Counter, UserHandle: c.UserHandle}, nil
					}
				}
				return fido.StoredCredential{}, kiosk.E(kiosk.KindNotFound, "lookup", errors.New("unknown credential"))
			},
		})
		if err != nil {
			return nil, err
		}
		out := signInOut{Method: res.Method.String(), PINAsked: asked.Load()}
		for _, a := range res.Accounts {
			out.Accounts = append(out.Accounts, accountOut{
				CredentialID: a.CredentialID, UserHandle: a.UserHandle,
				UserName: a.UserName, DisplayName: a.DisplayName,
				Counter: a.Verified.Counter, UV: a.Verified.Flags.Has(fido.FlagUV),
			})
		}
		return out, nil
	},
}
