package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// Policy is one version of the appliance's policy. The engine owns what the
// policy says and how it is encoded (Data, in its own Schema version); the
// store keeps every version with who changed it and when, so an auditor can
// see what was in force at any time.
type Policy struct {
	Version   uint64 // 1, 2, 3, … assigned by PutPolicy
	Schema    uint32 // the engine's encoding version of Data
	Data      []byte
	ChangedAt time.Time
	ChangedBy string
	Comment   string
}

type policyWire struct {
	V         uint   `cbor:"0,keyasint"`
	Version   uint64 `cbor:"1,keyasint"`
	Schema    uint32 `cbor:"2,keyasint"`
	Data      []byte `cbor:"3,keyasint"`
	ChangedAt int64  `cbor:"4,keyasint"`
	ChangedBy string `cbor:"5,keyasint,omitempty"`
	Comment   string `cbor:"6,keyasint,omitempty"`
}

func (w policyWire) version() uint { return w.V }

func (w policyWire) record() (*Policy, error) {
	if w.Version == 0 {
		return nil, fmt.Errorf("policy version 0")
	}
	return &Policy{
		Version: w.Version, Schema: w.Schema, Data: w.Data,
		ChangedAt: Unstamp(w.ChangedAt), ChangedBy: w.ChangedBy, Comment: w.Comment,
	}, nil
}

func encodePolicy(p *Policy) ([]byte, error) {
	return encodeWire("encode policy", policyWire{
		V: recordVersion, Version: p.Version, Schema: p.Schema, Data: p.Data,
		ChangedAt: Stamp(p.ChangedAt), ChangedBy: p.ChangedBy, Comment: p.Comment,
	})
}

func decodePolicy(k, b []byte) (*Policy, error) {
	return decodeRecord[Policy, policyWire]("decode policy", k, b, encodePolicy)
}

// EncodePolicy and DecodePolicy are the policy record's canonical CBOR
// without the store's seal: the fleet's directory keeps its policies in
// this form (store/fleet).
func EncodePolicy(p Policy) ([]byte, error) { return encodePolicy(&p) }

func DecodePolicy(b []byte) (Policy, error) {
	p, err := decodeWire[Policy, policyWire]("decode policy", b, encodePolicy)
	if err != nil {
		return Policy{}, err
	}
	return *p, nil
}

// PutPolicy stores a new policy version and audits it. base is the version
// the change was made against (0 when there is none yet): if another change
// landed since, nothing is written and the error is kiosk.KindConflict, so
// two administrators cannot silently overwrite each other. It returns the
// new version number.
func (db *DB) PutPolicy(schema uint32, data []byte, base uint64, ch Change) (uint64, error) {
	const op = "put policy"
	if data == nil {
		data = []byte{}
	}
	at := db.at(ch.At)
	var version uint64
	err := db.update(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketPolicy)
		if err != nil {
			return err
		}
		var current uint64
		if k, _ := b.Cursor().Last(); k != nil {
			current, _ = fromU64(k)
		}
		if current != base {
			return kiosk.Errorf(kiosk.KindConflict, op, "policy changed: version %d is current, change was made against %d", current, base)
		}
		version = current + 1
		p := Policy{Version: version, Schema: schema, Data: data, ChangedAt: at, ChangedBy: ch.Actor, Comment: ch.Detail["comment"]}
		v, err := encodePolicy(&p)
		if err != nil {
			return err
		}
		if err := put(b, u64(version), v); err != nil {
			return err
		}
		ev := ch.event(kiosk.EventPolicyChanged, at)
		ev.Detail = mergeDetail(ev.Detail, map[string]string{
			"version": fmt.Sprint(version), "schema": fmt.Sprint(schema), "previous": fmt.Sprint(current),
		})
		_, err = appendAudit(tx, &ev)
		return err
	})
	return version, err
}

// CurrentPolicy returns the newest policy, or kiosk.KindNotFound when none
// was ever stored (the engine then uses its built-in defaults).
func (db *DB) CurrentPolicy() (*Policy, error) { return db.policy(0) }

// PolicyVersion returns one stored version.
func (db *DB) PolicyVersion(version uint64) (*Policy, error) {
	if version == 0 {
		return nil, kiosk.Errorf(kiosk.KindNotFound, "read policy", "no policy version 0")
	}
	return db.policy(version)
}

func (db *DB) policy(version uint64) (*Policy, error) {
	const op = "read policy"
	var p *Policy
	err := db.view(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketPolicy)
		if err != nil {
			return err
		}
		var k, v []byte
		if version == 0 {
			k, v = b.Cursor().Last()
		} else {
			k, v = u64(version), b.Get(u64(version))
		}
		if v == nil {
			return kiosk.Errorf(kiosk.KindNotFound, op, "no policy version %d", version)
		}
		if p, err = decodePolicy(k, v); err != nil {
			return err
		}
		if n, _ := fromU64(k); n != p.Version {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "policy key %x holds version %d", k, p.Version)
		}
		return nil
	})
	return p, err
}
