// Package fleet is a terminal's side of a fleet of terminals: people,
// roaming credentials, revocations, enrollment codes and policy live in
// one etcd cluster (the directory), and every terminal keeps a mirror of
// it in its own bbolt file (package store) and signs people in from that
// mirror, online or not.
//
// It owns the directory's key layout and value encodings (below), the
// agent that keeps the mirror (Agent), the engine's records on a fleet
// terminal (Records), the redemption of enrollment codes as one etcd
// transaction (Directory.Redeem) and the fleet service's API for it
// (Handler, Service), and clone detection over the terminals' counter
// observations (Detector). A terminal's etcd user and role are made by
// `passkioskctl fleet join` (cmd/passkioskctl/fleet.go), which may not
// import the store. It uses only the etcd client module; the server
// module is for fleettest (tests) and cmd/passkiosk-fleetd alone. It must
// not import fyne, go-tpm or go-libfido2, and it never stands between a
// person and their sign-in: the engine reads only the local store.
//
// # Key layout
//
// Everything lives under one prefix. "CBOR" is canonical CTAP2 CBOR
// (passkiosk/fido/cbor) of a map with small integer keys; key 0 is always
// the record version (1), as in the store. IDs in keys are lower-case hex.
// Times are Unix nanoseconds (0: never).
//
//	/passkiosk/v1/
//	  dir/                          the directory: what every terminal mirrors,
//	                                with one watch and one revision
//	    users/<user id>        → CBOR User       {0 v, 1 id, 2 name, 3 display name, 4 [groups],
//	                                              5 state (1 active, 2 disabled, 3 locked), 6 created, 7 updated,
//	                                              8 updated by (the administrator; the mirror drops it)}
//	    creds/<cred id>        → CBOR Credential {0 v, 1 id, 2 user id, 4 COSE key, 5 counter at registration,
//	                                              6 AAGUID, 7 [transports], 8 attestation format, 9 label,
//	                                              10 created, 13 backup eligible}
//	                                              roaming credentials only: their public part
//	    revoked/<cred id>      → CBOR Revocation {0 v, 1 cred id, 2 user id, 3 at, 4 by, 5 reason}
//	                                              any credential, platform ones included; the
//	                                              credential's own key is deleted in the same txn
//	    suspect/<cred id>      → CBOR Suspect    {0 v, 1 cred id, 2 counter, 3 terminal, 4 at,
//	                                              5 earlier counter, 6 earlier terminal, 7 earlier at}
//	                                              a counter that went backwards across terminals
//	                                              (clone.go); audited by every mirror
//	    policy/current         → CBOR Policy     {0 v, 1 version, 2 engine schema, 3 data (config's
//	                                              canonical TOML), 4 changed at, 5 changed by, 6 comment}
//	    policy/v/<version, 20 decimal digits> → CBOR Policy   every version, for the auditor
//	    terminals/<name>       → CBOR Terminal   {0 v, 1 name, 2 site, 3 ward, 4 {labels}, 5 updated,
//	                                              6 updated by}   IT's inventory (terminals.go); in
//	                                              the directory so that a terminal's one watch sees
//	                                              its own labels change
//	  codes/<SHA-256 of the code> → CBOR Code    {0 v, 1 id, 2 hash, 3 user id, 4 purpose (1 enroll,
//	                                              2 recovery), 5 issued, 6 expires, 7 issued by,
//	                                              8 used at (0: unused), 9 used at terminal}
//	                                              not mirrored: codes are redeemed online only
//	  admins/<common name>     → JSON fleetapi.Admin {"v": 1, "name", "role": "admin"|"auditor", "added", "added_by"}
//	                                              who may use the fleet service's admin API
//	                                              (store/fleet/fleetadmin); written with the root
//	                                              credentials by `passkioskctl fleet admin add`, which
//	                                              may not link this package's CBOR codecs
//	  term/<name>/                only terminal <name> may write here (its role)
//	    heartbeat              → CBOR Heartbeat  {0 v, 1 revision applied, 2 at, 3 offline since}
//	                                              bound to the terminal's lease: gone when it is
//	    platform/<cred id>     → CBOR Platform   {0 v, 1 cred id, 2 user id, 3 COSE key, 4 AAGUID,
//	                                              5 label, 6 created}   public metadata of a TPM
//	                                              passkey, so IT can list and revoke it; the
//	                                              TPM's key blobs never leave the terminal
//	    seen/<cred id>         → CBOR Seen       {0 v, 1 cred id, 2 counter, 3 at}
//	                                              the last signature counter this terminal saw
//	    state                  → CBOR TermState  {0 v, 1 session {1 user id, 2 display name, 3 started,
//	                                              4 ends at} (absent: none), 2 at, 3 last end request
//	                                              answered, 4 whether it ended the session,
//	                                              5 build, 6 why out of service ("": in service)}
//	                                              (sessions.go; nothing secret)
//	    end                    → CBOR EndRequest {0 v, 1 id, 2 user id, 3 by (administrator), 4 at}
//	                                              written by the fleet service (sessions end), deleted
//	                                              by the terminal once answered; refused after a minute
//	    audit/<seq, 20 decimal digits> → the audit entry's hashed CBOR (store layout);
//	                                              reserved for audit shipping, not written yet
//
// The directory is one prefix so that the agent reads it at one revision
// R and watches it from there with one watch: every change reaches the
// mirror in revision order, and the mirror's revision says exactly what it
// holds. Heartbeats and observations are outside it, so five hundred
// terminals' heartbeats do not wake five hundred watches. A batch that
// holds this terminal's own inventory record (terminals/<its name>)
// carries it to the store as the terminal's place (place.go), which the
// policy's place rules match; every other terminal's record is ignored.
//
// # The agent
//
// Agent.Run reads the whole directory at one revision (paged, every page
// at that revision) and applies it as a full reload, then watches from
// that revision (skipping its events, which the mirror holds) with
// progress notifications and require-leader. Each
// watch response is one batch: its changes and its last event's revision
// go to the store in one transaction (store.DB.ApplyMirror). When a watch
// ends (a member going away, no leader, a cancelled stream) the agent
// watches again from the revision it saved: the client does not do that
// by itself. A revision the cluster has compacted away cannot be watched
// from: the agent then reloads in full, which also removes what was
// deleted meanwhile. The client is given every member's endpoint, so one
// member down does not blind it.
//
// After half of Options.OfflineAfter without an answer the agent asks for
// a progress notification, on the watch's own context (the client files
// streams by context), and every watch has a stream of its own (a stream
// the server cancelled for want of a leader stayed silent when reused).
// etcd answers progress requests only on a watch whose start revision it
// has reached: a watch from the revision after the newest got none until
// something anywhere in the cluster was written, which is why the watch
// starts at the mirror's own revision. A request unanswered for half a
// probe is followed by a read of one key, which needs a leader and a
// quorum as the watch does. When nothing
// answers within Options.OfflineAfter the terminal is offline since the
// last answer. Offline, nothing changes for a person signing in: the
// engine reads the mirror. Back online, the watch from the saved revision
// catches up with exactly what was missed. A directory at a revision
// below the mirror's (restored from a backup) is loaded in full.
//
// # Enrollment codes and who writes the directory
//
// A code is single-use across the fleet: redeeming it is one etcd
// transaction that compares the code's record with the unused one read
// just before (its mod revision) and, in the same revision, marks it used
// and writes the new credential (Redeem). Of fifty terminals racing with
// one code, one transaction succeeds.
//
// That transaction is run by the fleet service (cmd/passkiosk-fleetd), not
// by the terminals under a narrow role. etcd's permissions are key ranges:
// a role that may write dir/creds/ to store a redeemed credential may
// write any credential for any person, without a code, and a role that
// may write codes/ may mark any code used or unused. A stolen terminal
// certificate would then be a way to add a key to anyone's account. The
// service holds the directory's write role; it checks the code, the
// person and the attestation before its transaction, and a terminal's role
// stays read-only on the directory and read-write on term/<name>/ only.
// Redemption needs the cluster: offline, the terminal refuses it with
// kiosk.KindOffline and the screen says why.
//
// # Terminal identity
//
// Each terminal authenticates with an mTLS client certificate whose common
// name is its etcd user (etcd's --client-cert-auth). Its private key is
// made in the terminal's TPM (`passkioskctl fleet key`, tpm.ClientKey) and
// signs every handshake there; ClientConfigSigner takes it. A terminal
// without a TPM uses a PEM key file (ClientConfig). `passkioskctl fleet
// join` creates the user and its role once (read /passkiosk/v1/, write
// only /passkiosk/v1/term/<name>/); granting costs a raft round per
// permission, so it is done at join, never at start. Deleting an etcd user
// does not stop a watch it already has open: decommissioning a terminal
// (`fleet leave`) must also put its certificate in the members' CRL, which
// they read at every handshake, and restart the members one at a time to
// close the connections it holds.
package fleet
