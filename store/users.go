package store

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// UserState says whether a person may sign in. Values are stored: never
// renumber them.
type UserState uint8

const (
	UserActive   UserState = 1
	UserDisabled UserState = 2 // switched off by an administrator
	UserLocked   UserState = 3 // locked after too many failures until cleared
)

var userStateNames = kiosk.Names[UserState]{UserActive: "active", UserDisabled: "disabled", UserLocked: "locked"}

func (s UserState) String() string { return userStateNames.Name("user-state", s) }

// MaxIDLen bounds user and credential IDs. WebAuthn user handles are at most
// 64 bytes (WebAuthn §5.4.3) and credential IDs at most 1023 (§4,
// "Credential ID").
const (
	MaxUserIDLen       = 64
	MaxCredentialIDLen = 1023
)

// User is a person who may sign in. ID is the WebAuthn user handle.
type User struct {
	ID          []byte
	Name        string // sign-in name; PutUser keeps names unique (see there)
	DisplayName string
	Groups      []string
	State       UserState
	Created     time.Time
	Updated     time.Time
}

type userWire struct {
	V           uint      `cbor:"0,keyasint"`
	ID          []byte    `cbor:"1,keyasint"`
	Name        string    `cbor:"2,keyasint,omitempty"`
	DisplayName string    `cbor:"3,keyasint,omitempty"`
	Groups      []string  `cbor:"4,keyasint,omitempty"`
	State       UserState `cbor:"5,keyasint"`
	Created     int64     `cbor:"6,keyasint,omitempty"`
	Updated     int64     `cbor:"7,keyasint,omitempty"`
}

func (w userWire) version() uint { return w.V }

func (w userWire) record() (*User, error) {
	if err := checkID("user", w.ID, MaxUserIDLen); err != nil {
		return nil, err
	}
	return &User{
		ID: w.ID, Name: w.Name, DisplayName: w.DisplayName, Groups: w.Groups,
		State: w.State, Created: Unstamp(w.Created), Updated: Unstamp(w.Updated),
	}, nil
}

func encodeUser(u *User) ([]byte, error) {
	return encodeWire("encode user", userWire{
		V: recordVersion, ID: u.ID, Name: u.Name, DisplayName: u.DisplayName,
		Groups: u.Groups, State: u.State, Created: Stamp(u.Created), Updated: Stamp(u.Updated),
	})
}

func decodeUser(k, b []byte) (*User, error) {
	return decodeRecord[User, userWire]("decode user", k, b, encodeUser)
}

func checkID(what string, id []byte, max int) error {
	if len(id) == 0 || len(id) > max {
		return fmt.Errorf("%s id of %d bytes (want 1..%d)", what, len(id), max)
	}
	return nil
}

// PutUser creates or replaces a user and audits the change in the same
// transaction. Created is kept from the stored record; Updated is set to
// the change's time.
//
// Names are unique, compared as sign-in compares them (ignoring case and
// surrounding space); an empty name is no name and may repeat. A new user,
// or a user renamed, whose name another user already has is a
// kiosk.KindConflict error. The check runs in the write transaction that
// stores the user, and bbolt runs one writer at a time, so two concurrent
// adds of one name cannot both succeed. A user keeping their name is never
// refused, so records from before this check that share a name can still
// be disabled or renamed apart.
func (db *DB) PutUser(u User, ch Change) error {
	const op = "put user"
	if err := checkID("user", u.ID, MaxUserIDLen); err != nil {
		return kiosk.E(kiosk.KindMalformed, op, err)
	}
	switch u.State {
	case UserActive, UserDisabled, UserLocked:
	default:
		return kiosk.Errorf(kiosk.KindMalformed, op, "unknown user state %d", u.State)
	}
	at := db.at(ch.At)
	return db.update(op, func(tx *bolt.Tx) error {
		users, err := bucket(tx, bucketUsers)
		if err != nil {
			return err
		}
		typ := kiosk.EventUserCreated
		u.Created, u.Updated = at, at
		var prev *User
		if old := users.Get(u.ID); old != nil {
			if prev, err = decodeUser(u.ID, old); err != nil {
				return err
			}
			typ = kiosk.EventUserChanged
			u.Created = prev.Created
		}
		if prev == nil || !sameName(prev.Name, u.Name) {
			if err := nameFree(users, op, u.ID, u.Name); err != nil {
				return err
			}
		}
		v, err := encodeUser(&u)
		if err != nil {
			return err
		}
		if err := put(users, u.ID, v); err != nil {
			return err
		}
		ev := ch.event(typ, at)
		ev.UserID = u.ID
		ev.Detail = mergeDetail(ev.Detail, map[string]string{"state": u.State.String(), "name": u.Name})
		_, err = appendAudit(tx, &ev)
		return err
	})
}

// sameName compares sign-in names as the engine finds people by them.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// nameFree fails with kiosk.KindConflict when a user other than id is
// called name.
func nameFree(users *bolt.Bucket, op string, id []byte, name string) error {
	if strings.TrimSpace(name) == "" {
		return nil
	}
	return users.ForEach(func(k, v []byte) error {
		if bytes.Equal(k, id) {
			return nil
		}
		other, err := decodeUser(k, v)
		if err != nil {
			return err
		}
		if sameName(other.Name, name) {
			return kiosk.Errorf(kiosk.KindConflict, op, "user %q already exists (id %x)", other.Name, k)
		}
		return nil
	})
}

// User returns the user with the given ID, or a kiosk.KindNotFound error.
func (db *DB) User(id []byte) (*User, error) {
	const op = "read user"
	var u *User
	err := db.view(op, func(tx *bolt.Tx) (err error) {
		u, err = getRecord(tx, op, "user", bucketUsers, id, decodeUser)
		return err
	})
	return u, err
}

// Users returns every user in ID order.
func (db *DB) Users() ([]User, error) {
	return records(db, "list users", bucketUsers, decodeUser, nil)
}
