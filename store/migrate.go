package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// migration brings the file from schema version-1 to version. Migrations
// run in order, all pending ones in one write transaction, so a crash or an
// error leaves the file at its old schema, never half-way.
type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

// migrations is the schema's history. Append only; never edit a migration
// that has shipped.
var migrations = []migration{
	{1, "create buckets", migrateCreateBuckets},
	{2, "index credentials by user", migrateCredentialsByUser},
	{3, "drop the failed-attempts bucket", migrateDropAttempts},
}

// SchemaVersion is the schema this build writes.
func SchemaVersion() uint64 { return migrations[len(migrations)-1].version }

func migrateCreateBuckets(tx *bolt.Tx) error {
	for _, name := range topBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
	}
	att, err := tx.CreateBucketIfNotExists(bucketAttempts)
	if err != nil {
		return fmt.Errorf("bucket %q: %w", bucketAttempts, err)
	}
	for _, name := range bucketAttemptKind {
		if _, err := att.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket attempts/%q: %w", name, err)
		}
	}
	return nil
}

// migrateDropAttempts removes the failed-attempts bucket: the engine
// counts failures from the audit log, which keeps them anyway, and nothing
// has read the bucket since.
func migrateDropAttempts(tx *bolt.Tx) error {
	if tx.Bucket(bucketAttempts) == nil {
		return nil
	}
	return tx.DeleteBucket(bucketAttempts)
}

// migrateCredentialsByUser adds the cred-by-user index so CredentialsOf does
// not scan every credential, and fills it from the credentials already
// stored.
func migrateCredentialsByUser(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketCredByUser)
	if err != nil {
		return err
	}
	creds, err := bucket(tx, bucketCredentials)
	if err != nil {
		return err
	}
	return creds.ForEach(func(k, v []byte) error {
		c, err := decodeCredential(k, v)
		if err != nil {
			return fmt.Errorf("credential %x: %w", k, err)
		}
		return indexCredential(idx, c)
	})
}

// Schema returns the schema version stored in the file.
func (db *DB) Schema() (uint64, error) {
	var v uint64
	err := db.view("read schema", func(tx *bolt.Tx) (err error) {
		v, err = schemaOf(tx)
		return err
	})
	return v, err
}

// schemaOf reads meta/schema; a file without meta is at schema 0 (new).
func schemaOf(tx *bolt.Tx) (uint64, error) {
	const op = "read schema"
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get(keySchema)
	if raw == nil {
		return 0, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "meta bucket without schema version")
	}
	body, err := unseal(op, keySchema, raw)
	if err != nil {
		return 0, err
	}
	v, ok := fromU64(body)
	if !ok {
		return 0, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "schema version of %d bytes", len(body))
	}
	return v, nil
}

// migrate applies the pending migrations of list and records each in the
// audit log, all in one write transaction.
func (db *DB) migrate(list []migration) error {
	const op = "migrate store"
	latest := list[len(list)-1].version
	// Look before writing: a bbolt commit rewrites the freelist and a
	// meta page even when nothing changed, and an up-to-date store
	// should open without a write.
	current, err := db.Schema()
	if err != nil {
		return err
	}
	if current == latest {
		return nil
	}
	return db.update(op, func(tx *bolt.Tx) error {
		from, err := schemaOf(tx)
		if err != nil {
			return err
		}
		if from > latest {
			return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "%s has schema %d, this build knows up to %d", db.path, from, latest)
		}
		if from == latest {
			return nil
		}
		for _, m := range list {
			if m.version <= from {
				continue
			}
			if err := m.apply(tx); err != nil {
				return kiosk.E(kiosk.KindStoreCorrupt, op, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err))
			}
			if err := put(tx.Bucket(bucketMeta), keySchema, u64(m.version)); err != nil {
				return err
			}
			ev := AuditEvent{Time: db.now().UTC(), Type: kiosk.EventStoreMigrated, Detail: map[string]string{
				"from": fmt.Sprint(from), "to": fmt.Sprint(m.version), "migration": m.name,
			}}
			if _, err := appendAudit(tx, &ev); err != nil {
				return err
			}
		}
		return nil
	})
}
