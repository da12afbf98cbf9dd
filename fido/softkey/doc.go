// Package softkey is a complete virtual CTAP 2.1 security key. It speaks
// CTAPHID over 64-byte reports exactly as a USB key does, so the real
// libfido2 can drive it once fido/hidtest presents it as a hidraw device,
// and the demo can run the appliance without hardware.
//
// It owns:
//   - CTAPHID framing (ctaphid.go, CTAP 2.1 §11.2): channel allocation,
//     continuation packets, busy channels, message timeouts, CANCEL,
//     KEEPALIVE while it waits for a touch;
//   - the authenticator API (ctap2.go, makecred.go, getassert.go,
//     clientpin.go, CTAP 2.1 §6): getInfo, makeCredential with packed
//     attestation, getAssertion and getNextAssertion, clientPIN with PIN/UV
//     auth protocols 1 and 2, reset, and the credProtect and hmac-secret
//     extensions (hmacsecret.go, CTAP 2.1 §12);
//   - the person in front of it (presence.go): touch given, refused, late or
//     never, and a fingerprint sensor with its own retries;
//   - its flash (state.go): credentials, PIN hash, retry counters, the
//     signature counter and the attestation identity, in one file written
//     atomically;
//   - switches that make it misbehave on purpose (key.go, Fault), so hosts
//     can be tested against broken keys.
//
// The sub-package host is a small CTAPHID host for the demo and the tests,
// demokey the demo's kiosk.RoamingKeys adapter over it; host and the
// key share the PIN protocol arithmetic in internal/pinproto.
//
// It is test and demo equipment. It must not touch real devices, the TPM,
// the store or the UI, and production code paths must never depend on it.
// It keeps private keys in plain form in its state file: never point
// StatePath at anything that matters.
package softkey
