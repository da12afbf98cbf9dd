// Package tpm is passkiosk's platform authenticator: device-bound passkeys
// whose private keys live in this terminal's TPM 2.0 and whose PIN the TPM
// itself checks, so guessing is limited by the TPM's dictionary-attack
// protection and not by passkiosk's code alone. It speaks to the TPM with
// go-tpm's tpm2 direct API.
//
// It owns: choosing and opening the TPM (transports), the storage root key
// and the signature counter it keeps in the TPM, creating a person's
// signing key, signing WebAuthn assertions with it, changing its PIN,
// reading the lockout state, optional TPM attestation, and translating TPM
// response codes into kiosk error kinds (errors.go, the only place).
// It must not touch the store, USB security keys (fido/usbkey) or the UI:
// the engine stores the KeyBlobs this package returns and hands them back.
//
// # Transports
//
// Config.Transport picks one:
//   - "device" (the default): /dev/tpmrm0, the kernel's resource manager,
//     falling back to /dev/tpm0. The service user needs group tss.
//   - "swtpm": a swtpm data channel (raw TPM commands) at "unix:/path" or
//     "tcp:127.0.0.1:port"; or, with SwtpmStateDir, a swtpm process Open
//     starts itself and Close stops.
//   - "simulator": the in-process reference simulator (cgo, OpenSSL). It is
//     manufactured afresh every time it opens and keeps its NV memory only
//     in RAM, so it cannot save state: after a restart every key enrolled
//     on it fails with kiosk.KindTPMCleared, exactly like a cleared TPM.
//     A demo that must keep enrollments across restarts uses "swtpm" with
//     SwtpmStateDir instead.
//
// Operations take a context: it is checked before and between TPM
// commands. A command already sent runs to its end, because a TPM cannot
// abandon one; a socket transport bounds it with Config.CommandTimeout and
// the kernel driver bounds a device command.
//
// Every transport retries TPM_RC_RETRY, TPM_RC_TESTING and TPM_RC_YIELDED
// (the command was not executed) up to twelve times, backing off from 1 ms
// to 250 ms, about one second in all;
// socket transports bound each command by Config.CommandTimeout.
//
// Open reports "no usable TPM 2.0" as kiosk.KindNoTPM with the reason: no
// device node (no TPM, or firmware TPM off), permission denied, the raw
// device busy, a TPM 1.2 (sysfs, or a 1.2 response tag to a 2.0 command),
// a TPM in failure mode, or the storage hierarchy disabled. The appliance
// then runs with roaming security keys only.
//
// # Objects passkiosk keeps in the TPM
//
// Storage root key, persistent at 0x81000002 (Config.SRKHandle): the TCG
// reference ECC P-256 SRK template (TCG TPM v2.0 Provisioning Guidance),
// TPMT_PUBLIC:
//
//	type        TPM_ALG_ECC
//	nameAlg     TPM_ALG_SHA256
//	attributes  fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth |
//	            noDA | restricted | decrypt
//	authPolicy  empty; authValue empty
//	parameters  symmetric AES-128-CFB, scheme NULL, curve NIST P-256, kdf NULL
//	unique      x, y: 32 zero bytes each
//
// It is created with TPM2_CreatePrimary and persisted with
// TPM2_EvictControl once, at the first Open (owner authorization from
// Config.OwnerAuth, empty on most machines), and again only by Open or an
// enrollment that finds the handle empty. An object of another shape at
// the handle is refused, never evicted. Sign-in never creates a primary or
// any other key, not even when the SRK is gone: the benchmark and the
// tests count commands to show it.
//
// Signature counter, NV index 0x01B0F1D0 (Config.CounterIndex):
// TPM_NT_COUNTER, authWrite | authRead | noDA, empty authValue, 8 bytes,
// nameAlg SHA-256. One counter for the terminal, incremented by
// TPM2_NV_Increment on every enrollment and every sign-in whose PIN the
// TPM accepted (a wrong PIN writes nothing to NV); see counter.go for why
// one per terminal and not one per credential.
//
// # A person's key
//
// Each person's passkey is an ordinary TPM object, created with TPM2_Create
// under the SRK and never stored in the TPM; only its blobs are kept
// (KeyBlobs: TPM2B_PUBLIC, TPM2B_PRIVATE, the PIN salt and the SRK's Name).
// Template:
//
//	type        TPM_ALG_ECC
//	nameAlg     TPM_ALG_SHA256
//	attributes  fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth |
//	            sign            (noDA clear: dictionary-attack protection on)
//	authPolicy  empty
//	authValue   base64url(HMAC-SHA-256(salt, PIN)[:24]), 32 bytes (key.go)
//	parameters  symmetric NULL, scheme ECDSA/SHA-256, curve NIST P-256, kdf NULL
//
// The credential ID is the key's TPM Name (0x000B ‖ SHA-256(TPMT_PUBLIC)),
// the COSE key is ES256, and the AAGUID is AAGUIDString. Every command that
// carries the PIN-derived authValue uses a one-use HMAC session salted to
// the SRK with AES-128-CFB parameter encryption: TPM2_Create's sensitive
// area and TPM2_ObjectChangeAuth's newAuth are encrypted, and the HMAC that
// authorizes TPM2_Sign is keyed with a salt an eavesdropper cannot know, so
// neither the PIN nor anything to test guesses against crosses the bus.
//
// Deleting a person's key is deleting its blobs (KeyBlobs.Wipe for the copy
// in memory): nothing in the TPM belongs to one person. Changing the PIN
// returns new blobs; the old private blob would still load with the old
// PIN, so the store must overwrite it.
//
// # Sign-in
//
// TPM2_Load, TPM2_StartAuthSession, TPM2_Sign, TPM2_NV_Increment,
// TPM2_NV_Read, TPM2_FlushContext: six commands, 2.1–2.8 ms on swtpm on a
// shared two-core machine (seven and 3.4–4.0 ms in the same run when the
// counter is read before signing), of which TPM2_NV_Increment is the
// largest part (swtpm writes its state file on every NV write). The
// assertion is signed over the counter value the last increment read back
// + 1 (read once after Open: cachedCounter), and the counter is
// incremented only after TPM2_Sign accepted the PIN; the assertion is
// released only if the increment made exactly that value, and a counter
// another program moved meanwhile costs one dropped signature and a second
// one over the real value (signLocked in signin.go says why that never
// releases a value twice, even across a
// crash). The authenticator data has the RP ID hash, UP and UV (the TPM
// verified the PIN) and the counter; the signature is ES256 (DER) over
// authenticatorData ‖ clientDataHash, verified by fido.VerifyAssertion like
// any security key's. Every transient handle is flushed by its one owner
// (withKey); sessions are one-use, except, with Config.KeepSession (the
// appliance sets it), the one salted session kept open across sign-ins
// (session.go): then a sign-in is five commands, TPM2_Load, TPM2_Sign,
// TPM2_NV_Increment, TPM2_NV_Read, TPM2_FlushContext, 1.75–2.15 ms on swtpm
// against 2.7–3.2 ms for six in the same run (BenchmarkSignInSwtpm*). The
// kept session is dropped after any failed command and opened again by the
// next one; a TPM that lost it (a resume) says so before it checks the
// PIN, and the sign-in signs once more through a new one. Close flushes
// it. On a raw device without the kernel's resource manager a crashed
// appliance leaves it loaded until the TPM restarts.
//
// # Errors
//
// Wrong PIN (TPM_RC_BAD_AUTH or TPM_RC_AUTH_FAIL, any session number):
// kiosk.KindPINInvalid with the tries left from TPM_PT_MAX_AUTH_FAIL minus
// TPM_PT_LOCKOUT_COUNTER; the wrong PIN that uses the last try, and any
// attempt during a lockout (TPM_RC_LOCKOUT), is kiosk.KindTPMLockout
// wrapping a *LockoutError with the longest wait (one
// TPM_PT_LOCKOUT_INTERVAL). A key the TPM no longer has is
// kiosk.KindTPMCleared: the SRK's Name differs from the one stored in the
// blobs, or TPM2_Load fails its integrity check under an SRK that is no
// longer the one the blobs name, or the SRK and the counter index are both
// gone. Blobs the TPM refuses under the very SRK they name were altered in
// storage: kiosk.KindStoreCorrupt (integrity) or kiosk.KindMalformed
// (format). An SRK evicted without a clear (the counter is still there) is
// kiosk.KindDevice saying so: the keys are intact and work again once Open
// or an enrollment has made the SRK again. An NV write the TPM refuses for
// now (TPM_RC_NV_RATE, TPM_RC_NV_UNAVAILABLE) is kiosk.KindDeviceBusy.
// Lockout reads the state for the UI; ResetLockout and
// SetDictionaryAttackParameters are the administrator's lockout-hierarchy
// commands. The TPM's tries are the whole terminal's: the engine shows a
// person their own (kiosk.PINTries), never these.
//
// # Dictionary-attack parameters and the lockout authorization
//
// The TPM counts every wrong PIN on the chip together, and a right PIN
// does not lower the count. With Config.DA, Open sets TPM2_DictionaryAttack-
// Parameters (Part 3 §25.3; DefaultDAParams: 32 failures, one forgotten
// every 600 s, lockout authorization blocked 86400 s after a wrong one)
// and reads them back with TPM2_GetCapability; DAStatus says what it found.
// The lockout authorization comes from, in this order, each tried at most
// once (a wrong one blocks the lockout hierarchy for its recovery time):
// the copy passkiosk sealed earlier (Config.SealedLockoutAuth); IT's value
// from a root-only file (Config.LockoutAuth); or, when
// TPMA_PERMANENT.lockoutAuthSet is clear (a new or cleared TPM, swtpm), a
// random 32-byte value that Open seals first, has stored
// (Config.SaveSealedLockoutAuth), and only then sets with
// TPM2_HierarchyChangeAuth under a salted session that encrypts it. The
// sealed object is a keyedHash data object under the SRK (daparams.go):
// fixedTPM, fixedParent, userWithAuth and noDA, with an empty authValue;
// noDA because it holds no PIN, so a failed unseal never counts against
// people's PINs. It is unsealed with a salted session that encrypts the
// response. Without any of them the chip's parameters stay in force and
// DAStatus.Reason says why.
//
// # Orderly stop
//
// Close sends TPM2_Shutdown(CLEAR) on swtpm and the simulator; the swtpm
// helper (package swtpm) sends it before SIGTERM. A TPM stopped without it
// after a PIN-protected key was used counts one failure at its next start
// (measured on swtpm: 1 after SIGTERM alone, 0 with the shutdown). A real
// chip is left to the kernel, which sends the shutdown at power-off.
//
// # PINs in memory
//
// A PIN arrives as a byte slice that the caller owns and wipes; this
// package never turns it into a string. The authValue derived from it is
// wiped after the command, and the partial SHA-256 block in which the HMAC
// held the PIN is overwritten (authValue). The test
// TestNoPINLeftInMemoryAfterSignIn scans the process's writable memory
// for a typed PIN after a sign-in.
//
// # Attestation
//
// With EnrollRequest.Attest, the new key is certified with TPM2_Certify by
// an attestation key (an ECC P-256 restricted signing primary in the
// endorsement hierarchy, re-derived for each attested enrollment; template
// in attest.go) over SHA-256(authData ‖ clientDataHash), and returned as a
// WebAuthn "tpm" attestation statement (§8.3) with the certificate chain a
// site CA issued for that key (NewAIKCertificate,
// SetAttestationCertificates). fido.VerifyRegistration checks it like any
// TPM attestation.
package tpm
