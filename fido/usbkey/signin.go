package usbkey

/*
#include <fido.h>
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"errors"
	"unsafe"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// SignInRequest is one sign-in attempt with a key.
type SignInRequest struct {
	RPID string
	// ClientDataHash is the hash of the caller's client data (WebAuthn
	// §5.8.1): the caller built it, issued and redeems its challenge, and
	// verifies what the key signed over it.
	ClientDataHash [32]byte
	// AllowList names the credentials to use; empty asks the key for its
	// discoverable credentials for RPID, which says who is signing in.
	AllowList [][]byte
	PIN       PINFunc
	RequireUV bool
	// PresenceOnly asks for a touch and nothing else: no PIN, no
	// fingerprint. The assertion then proves that this key holds the
	// credential and that someone touched it, which is what "tap your key
	// again to sign out" needs; it never signs anyone in.
	PresenceOnly bool
}

// Account is one assertion as the key sent it, not yet verified: the
// caller verifies it against its own record of the credential
// (fido.VerifyAssertion; the engine does). UserName and DisplayName are
// what the key says, which no signature covers: never show them as who
// this is.
type Account struct {
	CredentialID []byte
	UserHandle   []byte
	UserName     string
	DisplayName  string
	AuthData     []byte
	Signature    []byte
}

// SignIn is what a key answered: one account per credential it offered
// for the RP, most often one, several when one key holds several
// accounts.
type SignIn struct {
	Accounts []Account
	Method   Method
}

type rawAssertion struct {
	credID, userID []byte
	name, display  string
	authData, sig  []byte
}

// SignIn gets assertions (CTAP 2.1 §6.2 authenticatorGetAssertion; libfido2
// collects the rest with authenticatorGetNextAssertion) over the caller's
// client data hash, and returns them unverified. User presence is always
// requested: libfido2 leaves the "up" option out unless told, and a
// sign-in without a touch is not a sign-in.
func (d *Device) SignIn(ctx context.Context, req SignInRequest) (*SignIn, error) {
	const op = "sign in"
	if req.RPID == "" {
		return nil, kiosk.Errorf(kiosk.KindPolicy, op, "the RP ID is required")
	}
	hash := req.ClientDataHash

	var raws []rawAssertion
	var method Method
	err := d.runFor(ctx, op, d.opts.UserTimeout, func(s *session) error {
		attempt := func(pin []byte, uv bool) C.int {
			var code C.int
			raws, code = getAssertions(s, &req, hash[:], pin, uv)
			return code
		}
		if req.PresenceOnly {
			method = MethodPresence
			return d.fail(s, op, int(attempt(nil, false)))
		}
		var err error
		method, err = d.verifyUser(ctx, s, op, req.PIN, req.RequireUV, attempt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return accounts(op, &req, raws, method)
}

// accounts turns what the key returned into Accounts. A key may leave
// the credential out of an assertion when the allow list named exactly
// one (CTAP 2.1 §6.2.2); anywhere else an assertion without it says
// nothing about whose it is, and the whole answer is refused.
func accounts(op string, req *SignInRequest, raws []rawAssertion, method Method) (*SignIn, error) {
	out := &SignIn{Method: method, Accounts: make([]Account, 0, len(raws))}
	for _, r := range raws {
		if len(r.credID) == 0 {
			if len(req.AllowList) != 1 {
				return nil, kiosk.Errorf(kiosk.KindDevice, op, "the key returned an assertion without its credential")
			}
			r.credID = req.AllowList[0]
		}
		out.Accounts = append(out.Accounts, Account{
			CredentialID: r.credID, UserHandle: r.userID,
			UserName: r.name, DisplayName: r.display,
			AuthData: r.authData, Signature: r.sig,
		})
	}
	if len(out.Accounts) == 0 {
		return nil, kiosk.E(kiosk.KindNoCredentials, op, errors.New("the key returned no assertion"))
	}
	return out, nil
}

func getAssertions(s *session, req *SignInRequest, hash []byte, pin []byte, uv bool) ([]rawAssertion, C.int) {
	a := C.fido_assert_new()
	if a == nil {
		return nil, C.FIDO_ERR_INTERNAL
	}
	defer C.fido_assert_free(&a)
	if r := setupAssert(a, req, hash, uv); r != C.FIDO_OK {
		return nil, r
	}
	cpin, wipe := cPIN(pin)
	defer wipe()
	if r := C.fido_dev_get_assert(s.handle(), a, cpin); r != C.FIDO_OK {
		return nil, r
	}
	n := int(C.fido_assert_count(a))
	out := make([]rawAssertion, 0, n)
	for i := 0; i < n; i++ {
		idx := C.size_t(i)
		// libfido2 hands out authenticator data wrapped in a CBOR byte
		// string (its fido_assert_authdata_ptr); the signature covers the
		// bytes inside.
		var authData []byte
		if err := cbor.Unmarshal(goBytes(C.fido_assert_authdata_ptr(a, idx), C.fido_assert_authdata_len(a, idx)), &authData); err != nil {
			return nil, C.FIDO_ERR_RX_INVALID_CBOR
		}
		out = append(out, rawAssertion{
			credID:   goBytes(C.fido_assert_id_ptr(a, idx), C.fido_assert_id_len(a, idx)),
			userID:   goBytes(C.fido_assert_user_id_ptr(a, idx), C.fido_assert_user_id_len(a, idx)),
			name:     goString(C.fido_assert_user_name(a, idx)),
			display:  goString(C.fido_assert_user_display_name(a, idx)),
			authData: authData,
			sig:      goBytes(C.fido_assert_sig_ptr(a, idx), C.fido_assert_sig_len(a, idx)),
		})
	}
	return out, C.FIDO_OK
}

func setupAssert(a *C.fido_assert_t, req *SignInRequest, hash []byte, uv bool) C.int {
	ch, chLen := cBytes(hash)
	defer C.free(unsafe.Pointer(ch))
	if r := C.fido_assert_set_clientdata_hash(a, ch, chLen); r != C.FIDO_OK {
		return r
	}
	rpID := C.CString(req.RPID)
	defer C.free(unsafe.Pointer(rpID))
	if r := C.fido_assert_set_rp(a, rpID); r != C.FIDO_OK {
		return r
	}
	if r := forEachID(req.AllowList, func(p *C.uchar, n C.size_t) C.int { return C.fido_assert_allow_cred(a, p, n) }); r != C.FIDO_OK {
		return r
	}
	if r := C.fido_assert_set_up(a, C.FIDO_OPT_TRUE); r != C.FIDO_OK {
		return r
	}
	if uv {
		if r := C.fido_assert_set_uv(a, C.FIDO_OPT_TRUE); r != C.FIDO_OK {
			return r
		}
	}
	return C.FIDO_OK
}
