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

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// LookupFunc returns the stored record of a credential the key used, or
// an error of kind KindNotFound for a credential the appliance does not
// know. userHandle is what the key returned, nil for a credential from an
// allow list.
type LookupFunc func(credentialID, userHandle []byte) (fido.StoredCredential, error)

// SignInRequest is one sign-in attempt with a key.
type SignInRequest struct {
	RPID   string
	Origin string
	// Challenge was issued (and is redeemed) by the caller.
	Challenge fido.Challenge
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
	// Lookup is required: no assertion means anything until it is
	// verified against the stored credential.
	Lookup LookupFunc
}

// Account is one verified assertion: the key holds a credential for this
// person and proved it.
type Account struct {
	CredentialID []byte
	UserHandle   []byte
	UserName     string
	DisplayName  string
	Verified     *fido.AssertionResult
	// AuthData and Signature are the assertion as the key sent it, for a
	// caller that verifies again against its own records (the engine does).
	AuthData  []byte
	Signature []byte
}

// SignIn is a verified sign-in: one account per credential the key offered
// and the appliance knows, most often one, several when one key holds
// several accounts for this RP.
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
// collects the rest with authenticatorGetNextAssertion) and verifies each
// with fido.VerifyAssertion. User presence is always requested: libfido2
// leaves the "up" option out unless told, and a sign-in without a touch is
// not a sign-in.
func (d *Device) SignIn(ctx context.Context, req SignInRequest) (*SignIn, error) {
	const op = "sign in"
	if req.RPID == "" || req.Lookup == nil {
		return nil, kiosk.Errorf(kiosk.KindPolicy, op, "RP ID and credential lookup are required")
	}
	clientData := fido.ClientDataJSON("webauthn.get", req.Challenge, req.Origin)
	hash := fido.ClientDataHash(clientData)

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
	return verifyAssertions(op, &req, clientData, raws, method)
}

func verifyAssertions(op string, req *SignInRequest, clientData []byte, raws []rawAssertion, method Method) (*SignIn, error) {
	out := &SignIn{Method: method}
	for _, r := range raws {
		if len(r.credID) == 0 {
			// CTAP 2.1 §6.2.2: the key may leave the credential out when
			// the allow list named exactly one; anywhere else an
			// assertion without it says nothing about whose it is.
			if len(req.AllowList) != 1 {
				return nil, kiosk.Errorf(kiosk.KindDevice, op, "the key returned an assertion without its credential")
			}
			r.credID = req.AllowList[0]
		}
		stored, err := req.Lookup(r.credID, r.userID)
		if kiosk.KindOf(err) == kiosk.KindNotFound {
			continue // a credential of this RP the appliance never enrolled
		}
		if err != nil {
			return nil, err
		}
		res, err := fido.VerifyAssertion(fido.AssertionInput{
			RPID:           req.RPID,
			Origin:         req.Origin,
			Challenge:      req.Challenge,
			Credential:     stored,
			CredentialID:   r.credID,
			AuthData:       r.authData,
			ClientDataJSON: clientData,
			Signature:      r.sig,
			UserHandle:     r.userID,
			RequireUV:      req.RequireUV || method != MethodPresence,
		})
		if err != nil {
			// One bad assertion makes the whole answer untrustworthy.
			return nil, err
		}
		out.Accounts = append(out.Accounts, Account{
			CredentialID: r.credID, UserHandle: r.userID,
			UserName: r.name, DisplayName: r.display, Verified: res,
			AuthData: r.authData, Signature: r.sig,
		})
	}
	if len(out.Accounts) == 0 {
		return nil, kiosk.E(kiosk.KindNoCredentials, op, errors.New("the key holds no credential enrolled here"))
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
	for _, id := range req.AllowList {
		p, n := cBytes(id)
		r := C.fido_assert_allow_cred(a, p, n)
		C.free(unsafe.Pointer(p))
		if r != C.FIDO_OK {
			return r
		}
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
