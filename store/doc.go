// Package store keeps the appliance's records in one bbolt file: people,
// their passkeys, the policy's versions, one-time enrollment codes, the
// session journal, failed-attempt windows and the hash-chained audit log.
//
// It owns the file's layout, the records' encoding, migrations and the audit
// chain. It does not decide anything: policy, lockouts, backoff and what a
// failure means belong to the engine, which calls this package. It must not
// import tpm, fido/usbkey, ui or fyne, and it does no device I/O. Time always
// comes in from the caller (or Options.Now); nothing here reads the clock on
// its own.
//
// # Opening
//
// Open takes the file's lock with a finite timeout, reads the whole file
// (bbolt's consistency check, every record decoded, the audit chain
// verified) and applies pending migrations in one transaction. A file held
// by another process is kiosk.KindStoreLocked; a damaged, truncated or
// tampered file, or one from a newer schema, is kiosk.KindStoreCorrupt. On
// either the appliance starts in its out-of-service state instead of
// exiting, and leaves the file alone for IT (OutOfService tells the two
// kinds from a configuration mistake).
//
// On some damage bbolt faults, recurses without end or allocates without
// bound inside a goroutine of its own, where no recover reaches. The
// appliance therefore opens with Options.IsolateCheck: the check runs in a
// re-executed copy of the program (whose main calls ServeCheck first), and
// a checker that dies is reported as KindStoreCorrupt like any other
// damage. Reads after Open recover bbolt panics and memory faults into
// KindStoreCorrupt as well.
//
// A new store is built under
// "<path>.new" and renamed into place, so a first start that crashes leaves
// no half-made file; an existing empty file is refused, not reinitialised.
//
// # Layout (schema 3)
//
// Bucket names are in buckets.go. Every value is followed by a 4-byte
// big-endian CRC-32C (Castagnoli) of its key and its bytes: bbolt checksums
// only its meta pages, so this seal is what turns a flipped bit in a data
// page into KindStoreCorrupt rather than a silently different record.
// "CBOR" below is canonical CTAP2 CBOR (passkiosk/fido/cbor) of a map with
// small integer keys; key 0 is always the record version (1). A record that
// does not re-encode to its stored bytes is refused.
//
//	meta/
//	  schema        → uint64 BE                         schema version (3)
//	  audit-head    → CBOR {1: seq, 2: hash}            newest audit entry
//	  audit-anchor  → CBOR {1: seq, 2: hash}            newest pruned entry (absent: genesis, seq 0, 32 zero bytes)
//	users/
//	  <user id>     → CBOR User        {1 id, 2 name (unique, ignoring case), 3 display name, 4 [groups],
//	                                    5 state, 6 created, 7 updated}
//	credentials/
//	  <cred id>     → CBOR Credential  {1 id, 2 user id, 3 kind, 4 COSE key, 5 counter, 6 AAGUID,
//	                                    7 [transports], 8 attestation format, 9 label, 10 created,
//	                                    11 last used, 12 {1 TPM2B_PUBLIC, 2 TPM key blobs},
//	                                    13 backup eligible}
//	                  12.2 is bytes the store does not interpret: package tpm's canonical
//	                  CBOR map {2 TPM2B_PRIVATE, 3 PIN salt, 4 SRK Name} (tpm.KeyBlobs.StoredForm)
//	cred-by-user/                                       (schema 2)
//	  <user id>/
//	    <cred id>   → empty
//	policy/
//	  <version uint64 BE> → CBOR Policy {1 version, 2 engine schema, 3 data (opaque), 4 changed at,
//	                                     5 changed by, 6 comment}
//	enroll-codes/
//	  <16 random bytes> → CBOR EnrollmentCode {1 id, 2 SHA-256 of the code, 3 user id, 4 purpose,
//	                                           5 issued, 6 expires, 7 issued by, 8 used at, 9 used terminal}
//	sessions/
//	  <session id uint64 BE> → CBOR Session {1 id, 2 user id, 3 cred id, 4 terminal, 5 workspace,
//	                                         6 (unused), 7 opened, 8 ended, 9 cause (kiosk.EndCause), 10 wiped}
//	audit/
//	  <seq uint64 BE> → CBOR AuditEvent {1 seq, 2 time, 3 type (kiosk.Event), 4 actor, 5 terminal, 6 user id,
//	                                     7 cred id, 8 session id, 9 reason (kiosk.Kind), 10 end cause (kiosk.EndCause),
//	                                     11 {detail}, 12 [items], 13 prev hash, 14 hash,
//	                                     15 user name, 16 credential label}
//	                  15 and 16 are absent from entries written before they existed; those
//	                  entries keep hashing as they were written
//	(attempts/, failed sign-ins by subject, was dropped by schema 3: the
//	engine counts failures from the audit log)
//	pin-tries/                          (made by its first write; absent reads as empty)
//	  <user id> → wrong TPM PINs in a row uint64 BE ‖ last one unix ns int64 BE
//	tpm/                                (made by its first write; absent reads as empty)
//	  lockout-auth → the TPM's lockout authorization, sealed to this TPM's SRK (tpm package blobs)
//	mirror/                             (a fleet terminal's; made by its first write, mirror.go)
//	  revision     → uint64 BE          the fleet directory's revision the file holds
//	  current-at   → uint64 BE          unix ns the mirror last matched the directory
//	  place        → CBOR Place {0 v, 1 site, 2 ward, 3 {labels}, 4 updated, 5 updated by}
//	                                    this terminal's own inventory record, absent when the directory has none
//	  users/<user id>        → empty    people the directory owns (a full reload removes the others it had)
//	  credentials/<cred id>  → empty    roaming credentials the directory owns
//
// Times are Unix nanoseconds (int64, 0 for "never"). Integer keys are big
// endian so bbolt's byte order is numeric order.
//
// # Audit chain
//
// Entry n stores hash_n = SHA-256(hash_{n-1} ‖ CBOR of entry n without key
// 14), and hash_{n-1} itself as key 13. meta/audit-head names the newest
// entry, so deleting entries at the end is caught as well as changes,
// deletions and moves in the middle. Prune removes the oldest entries by age
// or count, verifying them first, and moves meta/audit-anchor to the last
// one removed; VerifyChain starts from the anchor. AuditHead reads
// meta/audit-head alone, in constant time, for status and for where a tail
// or follow starts; only VerifyChain (and Open) walk the log. The chain proves the
// log's integrity against damage and against edits by anyone who cannot
// also rewrite every later entry and the head; it is not a signature.
//
// Every change (users, credentials, policy, codes, sessions, sign-ins,
// failures, migrations, prunes) appends its audit entry in the same
// transaction as the change itself, so neither can exist without the other.
// The fleet mirror's batches (ApplyMirror) are audited as one fleet-synced
// entry per batch for what they create or replace, and one entry each for
// every revocation, removal and person stopped.
// OnAudit hands every committed entry, in order and once, to a forwarder
// (store/journald sends them to the systemd journal). Export writes a
// range with a header naming the terminal and the head, in the layout of
// kiosk/auditfile, whose Verify checks such a file away from the store.
package store
