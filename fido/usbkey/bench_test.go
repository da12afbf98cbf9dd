package usbkey

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

type benchIn struct {
	N      int
	SignIn signInIn
}

func init() {
	// One full sign-in per iteration: find the key in libfido2's manifest
	// and read its getInfo, then authenticatorGetAssertion with a PIN (which takes libfido2
	// through getKeyAgreement and getPinUvAuthTokenUsingPinWithPermissions
	// first), then fido.VerifyAssertion.
	clientHandlers["bench-signin"] = func(ctx context.Context, raw json.RawMessage) (any, error) {
		in, err := decode[benchIn](raw)
		if err != nil {
			return nil, err
		}
		signin := clientHandlers["signin"]
		for i := 0; i < in.N; i++ {
			keys, err := Discover(ctx, Options{})
			if err != nil {
				return nil, err
			}
			if len(keys) != 1 {
				return nil, kiosk.E(kiosk.KindDevice, "bench", errors.New("expected one key"))
			}
			in.SignIn.Path = keys[0].Path
			arg, _ := json.Marshal(in.SignIn)
			if _, err := signin(ctx, arg); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
}

func BenchmarkSignInWithPINThroughLibfido2(b *testing.B) {
	r := newRig(b, softkey.Config{PIN: "1234"})
	reg := r.mustRegister(registerIn{UserID: []byte("bench"), Name: "bench", Discoverable: true, PIN: "1234"})
	in := benchIn{N: b.N, SignIn: signInIn{PIN: "1234", Known: known(reg), RequireUV: true}}
	b.ResetTimer()
	if err := r.c.Call(context.Background(), "bench-signin", in, nil); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSignInWithFingerprintThroughLibfido2(b *testing.B) {
	r := newRig(b, softkey.Config{PIN: "1234", Fingerprint: true})
	reg := r.mustRegister(registerIn{UserID: []byte("bench"), Name: "bench", Discoverable: true, PIN: "1234"})
	in := benchIn{N: b.N, SignIn: signInIn{PIN: "1234", Known: known(reg), RequireUV: true}}
	b.ResetTimer()
	if err := r.c.Call(context.Background(), "bench-signin", in, nil); err != nil {
		b.Fatal(err)
	}
}
