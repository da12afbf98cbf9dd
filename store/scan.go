package store

import bolt "go.etcd.io/bbolt"

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
	err := db.update(op, func(tx *bolt.Tx) error {
		b, err := bucket(tx, name)
		if err != nil {
			return err
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
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}
