// Package fido is the appliance's WebAuthn relying party and client-data
// builder, in pure Go. The kiosk is both the WebAuthn client and the relying
// party, so it builds its own client data for every ceremony and verifies
// everything an authenticator returns before it means anything.
//
// It owns:
//   - authenticator data (authdata.go, WebAuthn §6.1),
//   - COSE public keys ES256, EdDSA and RS256 with typed verification
//     (cose.go, RFC 9052/9053),
//   - client data and single-use, expiring challenges (clientdata.go,
//     challenge.go, WebAuthn §5.8.1),
//   - registration verification (registration.go, WebAuthn §7.1) with
//     attestation statements checked by go-webauthn's protocol package and
//     trust decided here against anchors the policy supplies
//     (attestation.go),
//   - assertion verification (assertion.go, WebAuthn §7.2), including the
//     signature-counter rule.
//
// The strict CBOR modes live in the sub-package fido/cbor. Every failure is
// a *kiosk.Error whose kind the engine and UI branch on.
//
// It must not touch devices, cgo, the TPM or the database: device code lives
// in fido/usbkey and tpm, and feeds bytes here.
package fido
