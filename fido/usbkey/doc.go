// Package usbkey is the appliance's adapter to roaming USB FIDO2 security
// keys, over libfido2 (Debian libfido2-dev). It is the only package that
// talks to libfido2.
//
// It owns discovery and hot-plug (Watcher: polling libfido2's device
// manifest, telling a re-plugged key from a new one), getInfo, PIN and
// fingerprint retry counts, registration (authenticatorMakeCredential) and
// sign-in (authenticatorGetAssertion, with every discoverable credential
// the key holds for the RP), user verification by fingerprint first and PIN
// when the key has no sensor or the sensor is locked, cancellation through
// context.Context (CTAPHID_CANCEL), a time bound on every call, and the one
// translation of libfido2 results into kiosk error kinds (errors.go).
//
// Nothing a key returns is trusted, and nothing is verified here: the key
// signs over the caller's client data hash, and the adapter passes the
// attestation object or the assertions on as the key sent them. The
// engine, which built the client data, redeems its challenge and holds
// the records, verifies them once with passkiosk/fido. The account names
// a key sends are not signed and are never shown as who someone is.
//
// It must not import tpm, store or ui, and it does not decide policy:
// which keys and accounts are allowed is the engine's business.
package usbkey
