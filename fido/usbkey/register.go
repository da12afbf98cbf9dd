package usbkey

/*
#include <fido.h>
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"unsafe"

	"passkiosk/fido"
	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// User is the account a credential is made for (WebAuthn §5.4.3).
type User struct {
	ID          []byte // user handle, at most 64 bytes
	Name        string
	DisplayName string
}

// RegisterRequest is one enrollment on a key.
type RegisterRequest struct {
	RPID, RPName string
	// ClientDataHash is the hash of the caller's client data: the caller
	// built it, issued its challenge and verifies the attestation.
	ClientDataHash [32]byte
	User           User
	// Discoverable makes a resident credential, so sign-in needs no user
	// name: the key says who it is for.
	Discoverable bool
	// Exclude lists credential IDs already registered for this user; a key
	// holding one refuses (KindExcluded).
	Exclude   [][]byte
	PIN       PINFunc
	RequireUV bool
}

// Registration is a new credential as the key made it, not yet verified:
// the caller verifies the attestation object under its own policy
// (fido.VerifyRegistration; the engine does).
type Registration struct {
	AttestationObject []byte
	Method            Method
}

// Register makes a credential (CTAP 2.1 §6.1 authenticatorMakeCredential)
// over the caller's client data hash and returns its attestation object.
func (d *Device) Register(ctx context.Context, req RegisterRequest) (*Registration, error) {
	const op = "register"
	if req.RPID == "" || len(req.User.ID) == 0 || len(req.User.ID) > 64 || req.User.Name == "" {
		return nil, kiosk.Errorf(kiosk.KindPolicy, op, "RP ID, user ID (1..64 bytes) and user name are required")
	}
	hash := req.ClientDataHash

	var (
		format   string
		authData []byte
		attStmt  []byte
		method   Method
	)
	err := d.runFor(ctx, op, d.opts.UserTimeout, func(s *session) error {
		var err error
		method, err = d.verifyUser(ctx, s, op, req.PIN, req.RequireUV, func(pin []byte, uv bool) C.int {
			cred := C.fido_cred_new()
			if cred == nil {
				return C.FIDO_ERR_INTERNAL
			}
			defer C.fido_cred_free(&cred)
			if r := setupCred(cred, &req, hash[:], uv); r != C.FIDO_OK {
				return r
			}
			cpin, wipe := cPIN(pin)
			defer wipe()
			if r := C.fido_dev_make_cred(s.handle(), cred, cpin); r != C.FIDO_OK {
				return r
			}
			format = goString(C.fido_cred_fmt(cred))
			authData = goBytes(C.fido_cred_authdata_raw_ptr(cred), C.fido_cred_authdata_raw_len(cred))
			attStmt = goBytes(C.fido_cred_attstmt_ptr(cred), C.fido_cred_attstmt_len(cred))
			return C.FIDO_OK
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	attObj, err := fido.MarshalAttestationObject(format, authData, cbor.RawMessage(attStmt))
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	return &Registration{AttestationObject: attObj, Method: method}, nil
}

func setupCred(cred *C.fido_cred_t, req *RegisterRequest, hash []byte, uv bool) C.int {
	ch, chLen := cBytes(hash)
	defer C.free(unsafe.Pointer(ch))
	if r := C.fido_cred_set_clientdata_hash(cred, ch, chLen); r != C.FIDO_OK {
		return r
	}
	rpID, rpName := C.CString(req.RPID), C.CString(req.RPName)
	defer C.free(unsafe.Pointer(rpID))
	defer C.free(unsafe.Pointer(rpName))
	if r := C.fido_cred_set_rp(cred, rpID, rpName); r != C.FIDO_OK {
		return r
	}
	uid, uidLen := cBytes(req.User.ID)
	defer C.free(unsafe.Pointer(uid))
	name, display := C.CString(req.User.Name), C.CString(req.User.DisplayName)
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(display))
	if r := C.fido_cred_set_user(cred, uid, uidLen, name, display, nil); r != C.FIDO_OK {
		return r
	}
	if r := C.fido_cred_set_type(cred, C.COSE_ES256); r != C.FIDO_OK {
		return r
	}
	if req.Discoverable {
		if r := C.fido_cred_set_rk(cred, C.FIDO_OPT_TRUE); r != C.FIDO_OK {
			return r
		}
	}
	if uv {
		if r := C.fido_cred_set_uv(cred, C.FIDO_OPT_TRUE); r != C.FIDO_OK {
			return r
		}
	}
	return forEachID(req.Exclude, func(p *C.uchar, n C.size_t) C.int { return C.fido_cred_exclude(cred, p, n) })
}
