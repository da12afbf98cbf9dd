package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// EnrollPurpose says what a one-time code lets its holder do. Values are
// stored: never renumber them.
type EnrollPurpose uint8

const (
	PurposeEnroll   EnrollPurpose = 1 // register a credential for UserID
	PurposeRecovery EnrollPurpose = 2 // replace a lost credential of UserID
	// PurposeBootstrap was meant to create a first administrator, but
	// the appliance has no administrator accounts (administrators are
	// root and the admin group, through passkioskctl). No new ones are
	// issued; the value stays so codes stored before still decode.
	PurposeBootstrap EnrollPurpose = 3
)

var purposeNames = kiosk.Names[EnrollPurpose]{PurposeEnroll: "enroll", PurposeRecovery: "recovery", PurposeBootstrap: "bootstrap"}

func (p EnrollPurpose) String() string { return purposeNames.Name("purpose", p) }

// MaxEnrollTTL bounds how long a code stays valid.
const MaxEnrollTTL = 7 * 24 * time.Hour

// codeAlphabet is Crockford's base32: no I, L, O or U, so a code read aloud
// or typed from paper has no look-alike letters. 16 symbols carry 80 bits.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeLen      = 16
)

// EnrollmentCode is the stored form of a one-time code: only a hash of the
// code is kept, so reading the file does not give out codes.
type EnrollmentCode struct {
	ID           []byte
	Hash         []byte // SHA-256 of the domain label and the normalised code
	UserID       []byte // empty only for an old PurposeBootstrap code
	Purpose      EnrollPurpose
	IssuedAt     time.Time
	ExpiresAt    time.Time
	IssuedBy     string
	UsedAt       time.Time // zero while unused
	UsedTerminal string
}

type enrollWire struct {
	V            uint          `cbor:"0,keyasint"`
	ID           []byte        `cbor:"1,keyasint"`
	Hash         []byte        `cbor:"2,keyasint"`
	UserID       []byte        `cbor:"3,keyasint,omitempty"`
	Purpose      EnrollPurpose `cbor:"4,keyasint"`
	IssuedAt     int64         `cbor:"5,keyasint"`
	ExpiresAt    int64         `cbor:"6,keyasint"`
	IssuedBy     string        `cbor:"7,keyasint,omitempty"`
	UsedAt       int64         `cbor:"8,keyasint,omitempty"`
	UsedTerminal string        `cbor:"9,keyasint,omitempty"`
}

func (w enrollWire) version() uint { return w.V }

func (w enrollWire) record() (*EnrollmentCode, error) {
	if len(w.ID) != 16 || len(w.Hash) != sha256.Size {
		return nil, fmt.Errorf("enrollment code with %d-byte id and %d-byte hash", len(w.ID), len(w.Hash))
	}
	return &EnrollmentCode{
		ID: w.ID, Hash: w.Hash, UserID: w.UserID, Purpose: w.Purpose,
		IssuedAt: Unstamp(w.IssuedAt), ExpiresAt: Unstamp(w.ExpiresAt), IssuedBy: w.IssuedBy,
		UsedAt: Unstamp(w.UsedAt), UsedTerminal: w.UsedTerminal,
	}, nil
}

func encodeEnroll(c *EnrollmentCode) ([]byte, error) {
	return encodeWire("encode enrollment code", enrollWire{
		V: recordVersion, ID: c.ID, Hash: c.Hash, UserID: c.UserID, Purpose: c.Purpose,
		IssuedAt: Stamp(c.IssuedAt), ExpiresAt: Stamp(c.ExpiresAt), IssuedBy: c.IssuedBy,
		UsedAt: Stamp(c.UsedAt), UsedTerminal: c.UsedTerminal,
	})
}

func decodeEnroll(k, b []byte) (*EnrollmentCode, error) {
	return decodeRecord[EnrollmentCode, enrollWire]("decode enrollment code", k, b, encodeEnroll)
}

// NormaliseCode accepts what a person types of a one-time code (the
// store's, or the fleet directory's, which are made the same way): any
// case, dashes and spaces, and the look-alikes O for 0 and I or L for 1.
func NormaliseCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case '-', ' ':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if !strings.ContainsRune(codeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == codeLen
}

func hashCode(norm string) []byte {
	h := sha256.Sum256([]byte("passkiosk enrollment code v1\x00" + norm))
	return h[:]
}

// NewCode makes a one-time code: 80 random bits in Crockford's base32,
// in groups of four.
func NewCode() (string, error) {
	var raw [codeLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	var b strings.Builder
	for i, x := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[x&31])
	}
	return b.String(), nil
}

// IssueEnrollmentCode creates a one-time code valid for ttl from the
// change's time and audits it. The code is returned once, for the
// administrator to hand over; the store keeps only its hash.
func (db *DB) IssueEnrollmentCode(userID []byte, purpose EnrollPurpose, ttl time.Duration, ch Change) (string, *EnrollmentCode, error) {
	const op = "issue enrollment code"
	if ttl <= 0 || ttl > MaxEnrollTTL {
		return "", nil, kiosk.Errorf(kiosk.KindMalformed, op, "ttl %s outside (0, %s]", ttl, MaxEnrollTTL)
	}
	switch purpose {
	case PurposeEnroll, PurposeRecovery:
		if err := checkID("user", userID, MaxUserIDLen); err != nil {
			return "", nil, kiosk.E(kiosk.KindMalformed, op, err)
		}
	case PurposeBootstrap:
		return "", nil, kiosk.Errorf(kiosk.KindMalformed, op, "bootstrap codes are no longer issued: the appliance has no administrator accounts")
	default:
		return "", nil, kiosk.Errorf(kiosk.KindMalformed, op, "unknown purpose %d", purpose)
	}
	code, err := NewCode()
	if err != nil {
		return "", nil, kiosk.E(kiosk.KindUnknown, op, err)
	}
	norm, _ := NormaliseCode(code)
	at := db.at(ch.At)
	rec := &EnrollmentCode{
		ID: make([]byte, 16), Hash: hashCode(norm), UserID: userID, Purpose: purpose,
		IssuedAt: at, ExpiresAt: at.Add(ttl), IssuedBy: ch.Actor,
	}
	if _, err := rand.Read(rec.ID); err != nil {
		return "", nil, kiosk.E(kiosk.KindUnknown, op, err)
	}
	err = db.update(op, func(tx *bolt.Tx) error {
		if len(userID) > 0 && tx.Bucket(bucketUsers).Get(userID) == nil {
			return kiosk.Errorf(kiosk.KindNotFound, op, "no user %x", userID)
		}
		v, err := encodeEnroll(rec)
		if err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketEnroll), rec.ID, v); err != nil {
			return err
		}
		ev := ch.event(kiosk.EventEnrollCodeIssued, at)
		ev.UserID = userID
		ev.Detail = mergeDetail(ev.Detail, map[string]string{
			"code-id": fmt.Sprintf("%x", rec.ID), "purpose": purpose.String(), "expires": rec.ExpiresAt.Format(time.RFC3339),
		})
		_, err = appendAudit(tx, &ev)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return code, rec, nil
}

// RedeemEnrollmentCode uses up a code typed at terminal at time at. Every
// stored code's hash is compared in constant time, and all of them are
// compared, so timing tells nothing about near misses. A wrong, expired or
// already used code is a kiosk.KindChallenge error; the refusal is audited
// too (kiosk.EventEnrollCodeRefused), and the engine should count it as a failed
// attempt for the terminal.
func (db *DB) RedeemEnrollmentCode(code, terminal string, at time.Time) (*EnrollmentCode, error) {
	const op = "redeem enrollment code"
	at = db.at(at)
	var (
		found   *EnrollmentCode
		refusal error
	)
	err := db.update(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketEnroll)
		if err != nil {
			return err
		}
		if found, refusal, err = matchCode(b, op, code, at); err != nil {
			return err
		}
		ev := AuditEvent{Time: at, Type: kiosk.EventEnrollCodeRefused, Terminal: terminal}
		if refusal == nil {
			found.UsedAt, found.UsedTerminal = at, terminal
			v, err := encodeEnroll(found)
			if err != nil {
				return err
			}
			if err := put(b, found.ID, v); err != nil {
				return err
			}
			ev.Type = kiosk.EventEnrollCodeRedeemed
		}
		if found != nil {
			ev.UserID = found.UserID
			ev.Detail = map[string]string{"code-id": fmt.Sprintf("%x", found.ID), "purpose": found.Purpose.String()}
		}
		if refusal != nil {
			ev.Detail = mergeDetail(ev.Detail, map[string]string{"why": refusal.(*kiosk.Error).Err.Error()})
		}
		_, err = appendAudit(tx, &ev)
		return err
	})
	return codeOutcome(found, refusal, err)
}

// LookupEnrollmentCode says whether code would be accepted at time at,
// without using it up or writing anything: the engine checks a code before
// the person registers a passkey and redeems it only once the registration
// succeeded, so a failed registration does not burn the code. Refusals are
// the same kiosk.KindChallenge errors as RedeemEnrollmentCode's.
func (db *DB) LookupEnrollmentCode(code string, at time.Time) (*EnrollmentCode, error) {
	const op = "look up enrollment code"
	at = db.at(at)
	var found *EnrollmentCode
	var refusal error
	err := db.view(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketEnroll)
		if err != nil {
			return err
		}
		found, refusal, err = matchCode(b, op, code, at)
		return err
	})
	return codeOutcome(found, refusal, err)
}

// codeOutcome is what a redemption or a lookup answers: the code, or the
// store's error, or the reason the code is refused.
func codeOutcome(found *EnrollmentCode, refusal, err error) (*EnrollmentCode, error) {
	if err == nil {
		err = refusal
	}
	if err != nil {
		return nil, err
	}
	return found, nil
}

// matchCode compares code with every stored code's hash in constant time,
// all of them, so timing tells nothing about near misses. It returns the
// matching record (also when refused, for the audit entry) and the reason
// to refuse it, if any.
func matchCode(b *bolt.Bucket, op, code string, at time.Time) (*EnrollmentCode, error, error) {
	norm, ok := NormaliseCode(code)
	want := hashCode(norm)
	var found *EnrollmentCode
	err := b.ForEach(func(k, v []byte) error {
		c, err := decodeEnroll(k, v)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(c.Hash, want) == 1 && ok {
			found = c
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, nil, err
	case found == nil:
		return nil, kiosk.Errorf(kiosk.KindChallenge, op, "unknown enrollment code"), nil
	case !found.UsedAt.IsZero():
		return found, kiosk.Errorf(kiosk.KindChallenge, op, "enrollment code was already used"), nil
	case !at.Before(found.ExpiresAt):
		return found, kiosk.Errorf(kiosk.KindChallenge, op, "enrollment code expired at %s", found.ExpiresAt.Format(time.RFC3339)), nil
	}
	return found, nil, nil
}

// PruneEnrollmentCodes deletes codes that were used before cut or had
// expired by cut (a zero cut is the store's clock). Unused codes still
// valid at cut stay whatever their age. Their issue and use stay in the
// audit log.
func (db *DB) PruneEnrollmentCodes(cut time.Time) (int, error) {
	cut = db.at(cut)
	return prune(db, "prune enrollment codes", bucketEnroll, decodeEnroll, func(c *EnrollmentCode) bool {
		return !c.UsedAt.IsZero() && c.UsedAt.Before(cut) || !cut.Before(c.ExpiresAt)
	})
}
