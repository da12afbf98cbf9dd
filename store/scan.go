package store

import (
	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// getRecord decodes the record stored under id in bucket name; a missing
// one is a kiosk.KindNotFound error that names it as what.
func getRecord[T any](tx *bolt.Tx, op, what string, name, id []byte, decode func(k, v []byte) (*T, error)) (*T, error) {
	b, err := bucket(tx, name)
	if err != nil {
		return nil, err
	}
	v := b.Get(id)
	if v == nil {
		return nil, kiosk.Errorf(kiosk.KindNotFound, op, "no %s %x", what, id)
	}
	return decode(id, v)
}

// records decodes the records of bucket name that keep accepts (nil:
// all), in key order.
func records[T any](db *DB, op string, name []byte, decode func(k, v []byte) (*T, error), keep func(*T) bool) ([]T, error) {
	var out []T
	err := db.view(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, name)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			r, err := decode(k, v)
			if err != nil {
				return err
			}
			if keep == nil || keep(r) {
				out = append(out, *r)
			}
			return nil
		})
	})
	return out, err
}

// prune deletes the records of bucket name that gone accepts, in one
// transaction, and counts them. A record that does not decode stops it:
// nothing is deleted on a guess.
func prune[T any](db *DB, op string, name []byte, decode func(k, v []byte) (*T, error), gone func(*T) bool) (int, error) {
	n := 0
	err := db.update(op, func(tx *bolt.Tx) (err error) {
		n, err = pruneIn(tx, name, decode, gone)
		return err
	})
	return n, err
}

// pruneIn is prune within a transaction already open.
func pruneIn[T any](tx *bolt.Tx, name []byte, decode func(k, v []byte) (*T, error), gone func(*T) bool) (int, error) {
	b, err := bucket(tx, name)
	if err != nil {
		return 0, err
	}
	var keys [][]byte
	err = b.ForEach(func(k, v []byte) error {
		r, err := decode(k, v)
		if err != nil {
			return err
		}
		if gone(r) {
			keys = append(keys, clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
