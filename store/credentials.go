package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// CredentialKind says where a credential's private key lives. Values are
// stored: never renumber them.
type CredentialKind uint8

const (
	KindPlatform CredentialKind = 1 // in this machine's TPM
	KindRoaming  CredentialKind = 2 // on a USB security key
)

var credentialKindNames = kiosk.Names[CredentialKind]{KindPlatform: "platform", KindRoaming: "roaming"}

func (k CredentialKind) String() string { return credentialKindNames.Name("credential-kind", k) }

// TPMKey holds what a platform credential's key needs at sign-in, in the
// form package tpm hands it over (tpm.KeyBlobs.StoredForm); the store keeps
// both as opaque bytes. The key is loaded under the storage root key at
// sign-in; its private part is only usable inside this TPM.
type TPMKey struct {
	// Public is the key's TPM2B_PUBLIC as TPM2_Create returned it (TPM 2.0
	// Part 3 §12.1).
	Public []byte
	// Private is not a bare TPM2B_PRIVATE: it is tpm's canonical CBOR map
	// {2: TPM2B_PRIVATE, 3: the PIN salt, 4: the Name of the SRK the key
	// was created under}.
	Private []byte
}

// Credential is one passkey registered to one user.
type Credential struct {
	ID         []byte
	UserID     []byte
	Kind       CredentialKind
	PublicKey  []byte   // COSE_Key (RFC 9052 §7), as in the attested credential data
	Counter    uint32   // signature counter (WebAuthn §6.1.1)
	AAGUID     [16]byte // authenticator model (WebAuthn §6.5.1)
	Transports []string // "usb", "internal", … (WebAuthn §5.8.4)
	Format     string   // attestation statement format at registration
	// BackupEligible is the BE flag at registration (WebAuthn §6.1): the
	// credential may be synced off the authenticator.
	BackupEligible bool
	Label          string // shown in pickers and admin listings
	Created        time.Time
	LastUsed       time.Time
	TPM            *TPMKey // platform credentials only
}

type tpmWire struct {
	Public  []byte `cbor:"1,keyasint"`
	Private []byte `cbor:"2,keyasint"`
}

type credentialWire struct {
	V          uint           `cbor:"0,keyasint"`
	ID         []byte         `cbor:"1,keyasint"`
	UserID     []byte         `cbor:"2,keyasint"`
	Kind       CredentialKind `cbor:"3,keyasint"`
	PublicKey  []byte         `cbor:"4,keyasint"`
	Counter    uint32         `cbor:"5,keyasint"`
	AAGUID     []byte         `cbor:"6,keyasint"`
	Transports []string       `cbor:"7,keyasint,omitempty"`
	Format     string         `cbor:"8,keyasint,omitempty"`
	Label      string         `cbor:"9,keyasint,omitempty"`
	Created    int64          `cbor:"10,keyasint,omitempty"`
	LastUsed   int64          `cbor:"11,keyasint,omitempty"`
	TPM        *tpmWire       `cbor:"12,keyasint,omitempty"`
	BE         bool           `cbor:"13,keyasint,omitempty"`
}

func (w credentialWire) version() uint { return w.V }

func (w credentialWire) record() (*Credential, error) {
	if err := checkID("credential", w.ID, MaxCredentialIDLen); err != nil {
		return nil, err
	}
	if err := checkID("user", w.UserID, MaxUserIDLen); err != nil {
		return nil, err
	}
	if len(w.AAGUID) != 16 {
		return nil, fmt.Errorf("AAGUID of %d bytes", len(w.AAGUID))
	}
	c := &Credential{
		ID: w.ID, UserID: w.UserID, Kind: w.Kind, PublicKey: w.PublicKey, Counter: w.Counter,
		Transports: w.Transports, Format: w.Format, Label: w.Label,
		Created: Unstamp(w.Created), LastUsed: Unstamp(w.LastUsed), BackupEligible: w.BE,
	}
	copy(c.AAGUID[:], w.AAGUID)
	if w.TPM != nil {
		c.TPM = &TPMKey{Public: w.TPM.Public, Private: w.TPM.Private}
	}
	return c, nil
}

func encodeCredential(c *Credential) ([]byte, error) {
	w := credentialWire{
		V: recordVersion, ID: c.ID, UserID: c.UserID, Kind: c.Kind, PublicKey: c.PublicKey,
		Counter: c.Counter, AAGUID: c.AAGUID[:], Transports: c.Transports, Format: c.Format,
		Label: c.Label, Created: Stamp(c.Created), LastUsed: Stamp(c.LastUsed), BE: c.BackupEligible,
	}
	if c.TPM != nil {
		w.TPM = &tpmWire{Public: c.TPM.Public, Private: c.TPM.Private}
	}
	return encodeWire("encode credential", w)
}

func decodeCredential(k, b []byte) (*Credential, error) {
	return decodeRecord[Credential, credentialWire]("decode credential", k, b, encodeCredential)
}

func indexCredential(idx *bolt.Bucket, c *Credential) error {
	ub, err := idx.CreateBucketIfNotExists(c.UserID)
	if err != nil {
		return err
	}
	return put(ub, c.ID, nil)
}

func validCredential(c *Credential) error {
	if err := checkID("credential", c.ID, MaxCredentialIDLen); err != nil {
		return err
	}
	if err := checkID("user", c.UserID, MaxUserIDLen); err != nil {
		return err
	}
	if len(c.PublicKey) == 0 {
		return fmt.Errorf("credential without public key")
	}
	switch c.Kind {
	case KindPlatform:
		if c.TPM == nil || len(c.TPM.Public) == 0 || len(c.TPM.Private) == 0 {
			return fmt.Errorf("platform credential without TPM key blobs")
		}
	case KindRoaming:
		if c.TPM != nil {
			return fmt.Errorf("roaming credential with TPM key blobs")
		}
	default:
		return fmt.Errorf("unknown credential kind %d", c.Kind)
	}
	return nil
}

// AddCredential stores a newly registered credential for an existing user
// and audits the enrollment in the same transaction. A credential ID that is
// already stored is a kiosk.KindConflict error (WebAuthn §7.1 step 25: a
// registration whose credential ID is known must be refused).
func (db *DB) AddCredential(c Credential, ch Change) error {
	const op = "add credential"
	if err := validCredential(&c); err != nil {
		return kiosk.E(kiosk.KindMalformed, op, err)
	}
	at := db.at(ch.At)
	if c.Created.IsZero() {
		c.Created = at
	}
	return db.update(op, func(tx *bolt.Tx) error { return addCredentialIn(tx, op, &c, ch, at) })
}

// addCredentialIn stores c and audits its enrollment inside tx.
func addCredentialIn(tx *bolt.Tx, op string, c *Credential, ch Change, at time.Time) error {
	users, err := bucket(tx, bucketUsers)
	if err != nil {
		return err
	}
	if users.Get(c.UserID) == nil {
		return kiosk.Errorf(kiosk.KindNotFound, op, "no user %x", c.UserID)
	}
	creds, err := bucket(tx, bucketCredentials)
	if err != nil {
		return err
	}
	if creds.Get(c.ID) != nil {
		return kiosk.Errorf(kiosk.KindConflict, op, "credential %x already registered", c.ID)
	}
	v, err := encodeCredential(c)
	if err != nil {
		return err
	}
	if err := put(creds, c.ID, v); err != nil {
		return err
	}
	idx, err := bucket(tx, bucketCredByUser)
	if err != nil {
		return err
	}
	if err := indexCredential(idx, c); err != nil {
		return err
	}
	ev := ch.event(kiosk.EventEnrolled, at)
	ev.UserID, ev.CredentialID = c.UserID, c.ID
	ev.Detail = mergeDetail(ev.Detail, map[string]string{
		"kind": c.Kind.String(), "aaguid": fmt.Sprintf("%x", c.AAGUID), "format": c.Format,
	})
	_, err = appendAudit(tx, &ev)
	return err
}

// RemoveCredential deletes a credential and audits it.
func (db *DB) RemoveCredential(id []byte, ch Change) error {
	const op = "remove credential"
	at := db.at(ch.At)
	return db.update(op, func(tx *bolt.Tx) error {
		c, err := credentialIn(tx, op, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketCredentials).Delete(id); err != nil {
			return err
		}
		if ub := tx.Bucket(bucketCredByUser).Bucket(c.UserID); ub != nil {
			if err := ub.Delete(id); err != nil {
				return err
			}
		}
		ev := ch.event(kiosk.EventCredentialRemoved, at)
		ev.UserID, ev.CredentialID, ev.CredentialLabel = c.UserID, c.ID, CredentialLabel(*c)
		_, err = appendAudit(tx, &ev)
		return err
	})
}

func credentialIn(tx *bolt.Tx, op string, id []byte) (*Credential, error) {
	if _, err := bucket(tx, bucketCredByUser); err != nil {
		return nil, err
	}
	return getRecord(tx, op, "credential", bucketCredentials, id, decodeCredential)
}

// CredentialByID returns a credential, or a kiosk.KindNotFound error.
func (db *DB) CredentialByID(id []byte) (*Credential, error) {
	const op = "read credential"
	var c *Credential
	err := db.view(op, func(tx *bolt.Tx) (err error) {
		c, err = credentialIn(tx, op, id)
		return err
	})
	return c, err
}

// CredentialsOf returns a user's credentials in credential-ID order.
func (db *DB) CredentialsOf(userID []byte) ([]Credential, error) {
	const op = "list credentials"
	var out []Credential
	err := db.view(op, func(tx *bolt.Tx) error {
		idx, err := bucket(tx, bucketCredByUser)
		if err != nil {
			return err
		}
		ub := idx.Bucket(userID)
		if ub == nil {
			return nil
		}
		return ub.ForEach(func(k, _ []byte) error {
			c, err := credentialIn(tx, op, k)
			if err != nil {
				return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "index names credential %x: %v", k, err)
			}
			out = append(out, *c)
			return nil
		})
	})
	return out, err
}

// SignIn is what the engine learned from one verified assertion.
type SignIn struct {
	CredentialID []byte
	Counter      uint32 // the authenticator's new signature counter
	At           time.Time
	Terminal     string
	SessionID    uint64 // if a session was opened for it
	Detail       map[string]string
}

// RecordSignIn does a successful sign-in's bookkeeping in one write
// transaction: read the credential, store the new counter and last-used time,
// append the audit event. It returns the updated credential and the event's
// sequence number.
//
// A counter lower than the stored one, or equal to it when either is
// non-zero, is refused with kiosk.KindCounterRegression (WebAuthn §6.1.1,
// §7.2 step 22): two sign-ins racing each other, or a cloned authenticator,
// cannot roll the stored counter back. Nothing is written then; the engine
// audits the failure (sign-in-failed, counter-regression) and a
// possible-clone event.
func (db *DB) RecordSignIn(s SignIn) (*Credential, uint64, error) {
	const op = "record sign-in"
	at := db.at(s.At)
	var (
		c   *Credential
		seq uint64
	)
	err := db.update(op, func(tx *bolt.Tx) (err error) {
		c, err = credentialIn(tx, op, s.CredentialID)
		if err != nil {
			return err
		}
		if (s.Counter != 0 || c.Counter != 0) && s.Counter <= c.Counter {
			return kiosk.Errorf(kiosk.KindCounterRegression, op, "credential %x: counter %d, stored %d", c.ID, s.Counter, c.Counter)
		}
		c.Counter, c.LastUsed = s.Counter, at
		v, err := encodeCredential(c)
		if err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketCredentials), c.ID, v); err != nil {
			return err
		}
		ev := AuditEvent{
			Time: at, Type: kiosk.EventSignIn, Terminal: s.Terminal, UserID: c.UserID,
			CredentialID: c.ID, SessionID: s.SessionID,
			Detail: mergeDetail(s.Detail, map[string]string{"counter": fmt.Sprint(s.Counter)}),
		}
		seq, err = appendAudit(tx, &ev)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return c, seq, nil
}
