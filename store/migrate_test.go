package store

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

var updateTestdata = flag.Bool("update-testdata", false, "rewrite ../testdata/store from the generators")

const schema1File = "../testdata/store/schema1.db"

var migrateEpoch = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// openAtSchema opens path as a store and applies only the given
// migrations, as an older build of the appliance would have.
func openAtSchema(t *testing.T, path string, list []migration) *DB {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{bolt: b, path: path, now: func() time.Time { return migrateEpoch }}
	if err := db.migrate(list); err != nil {
		b.Close()
		t.Fatal(err)
	}
	return db
}

// writeSchema1Records stores users and credentials the way schema 1 laid
// them out: no cred-by-user index.
func writeSchema1Records(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"alice", "bob"} {
			u := &User{ID: []byte(name), Name: name, DisplayName: name + " (ward 3)", State: UserActive, Created: migrateEpoch, Updated: migrateEpoch}
			v, err := encodeUser(u)
			if err != nil {
				return err
			}
			if err := put(tx.Bucket(bucketUsers), u.ID, v); err != nil {
				return err
			}
		}
		for _, c := range []Credential{
			{ID: []byte("alice-key-1"), UserID: []byte("alice"), Kind: KindRoaming, PublicKey: []byte{0xa0}, Counter: 7, Created: migrateEpoch},
			{ID: []byte("alice-tpm"), UserID: []byte("alice"), Kind: KindPlatform, PublicKey: []byte{0xa0}, Created: migrateEpoch, TPM: &TPMKey{Public: []byte{1}, Private: []byte{2}}},
			{ID: []byte("bob-key-1"), UserID: []byte("bob"), Kind: KindRoaming, PublicKey: []byte{0xa0}, Counter: 1, Created: migrateEpoch},
		} {
			v, err := encodeCredential(&c)
			if err != nil {
				return err
			}
			if err := put(tx.Bucket(bucketCredentials), c.ID, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigration1CreatesBuckets(t *testing.T) {
	db := openAtSchema(t, filepath.Join(t.TempDir(), "s1.db"), migrations[:1])
	defer db.bolt.Close()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		if tx.Bucket(bucketCredByUser) != nil {
			t.Error("schema 1 has the schema 2 index")
		}
		for _, sub := range bucketAttemptKind {
			if tx.Bucket(bucketAttempts).Bucket(sub) == nil {
				t.Errorf("bucket attempts/%s missing", sub)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Schema(); err != nil || v != 1 {
		t.Errorf("schema %d, %v", v, err)
	}
	evs, err := db.Events(0, 10)
	if err != nil || len(evs) != 1 || evs[0].Type != kiosk.EventStoreMigrated || evs[0].Detail["to"] != "1" {
		t.Errorf("audit after migration 1 = %+v, %v", evs, err)
	}
}

func TestMigration2IndexesExistingCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.db")
	old := openAtSchema(t, path, migrations[:1])
	writeSchema1Records(t, old)
	old.bolt.Close()

	db, err := Open(path, Options{Now: func() time.Time { return migrateEpoch.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkUpgraded(t, db)
}

// checkUpgraded checks a store that was written at schema 1 by
// writeSchema1Records and then opened by this build.
func checkUpgraded(t *testing.T, db *DB) {
	t.Helper()
	if v, err := db.Schema(); err != nil || v != 3 {
		t.Fatalf("schema %d, %v", v, err)
	}
	cs, err := db.CredentialsOf([]byte("alice"))
	if err != nil || len(cs) != 2 || string(cs[0].ID) != "alice-key-1" || cs[0].Counter != 7 || cs[1].TPM == nil {
		t.Errorf("alice's credentials after upgrade = %+v, %v", cs, err)
	}
	if cs, _ := db.CredentialsOf([]byte("bob")); len(cs) != 1 {
		t.Errorf("bob's credentials after upgrade = %+v", cs)
	}
	st, err := db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	last, _ := db.Events(st.Head, 1)
	if len(last) != 1 || last[0].Type != kiosk.EventStoreMigrated || last[0].Detail["from"] != "1" || last[0].Detail["to"] != "3" {
		t.Errorf("last audit entry = %+v", last)
	}
	// The index is live: a new credential lands in it.
	if err := db.AddCredential(Credential{ID: []byte("bob-key-2"), UserID: []byte("bob"), Kind: KindRoaming, PublicKey: []byte{1}}, Change{}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := db.CredentialsOf([]byte("bob")); len(cs) != 2 {
		t.Errorf("bob after adding a key = %+v", cs)
	}
}

// A file of schema 2 holding failed attempts loses the bucket, keeps
// everything else, and its chain still verifies.
func TestMigration3DropsTheAttemptsBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s2.db")
	old := openAtSchema(t, path, migrations[:2])
	err := old.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketAttempts).Bucket(bucketAttemptKind[0]).CreateBucket([]byte("alice"))
		if err != nil {
			return err
		}
		return put(b, make([]byte, 16), []byte{0, 7})
	})
	if err != nil {
		t.Fatal(err)
	}
	old.bolt.Close()

	db, err := Open(path, Options{Now: func() time.Time { return migrateEpoch.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAttempts) != nil {
			t.Error("the attempts bucket is still there")
		}
		return nil
	})
	st, err := db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	last, _ := db.Events(st.Head, 1)
	if v, _ := db.Schema(); v != 3 || len(last) != 1 || last[0].Detail["from"] != "2" || last[0].Detail["to"] != "3" {
		t.Errorf("schema %d, last audit entry %+v", v, last)
	}
}

func TestMigrationsAreAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openAtSchema(t, path, migrations)
	defer db.bolt.Close()
	before, err := db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk says no")
	list := append(append([]migration(nil), migrations...),
		migration{4, "add a bucket", func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("new")); return err }},
		migration{5, "fail", func(*bolt.Tx) error { return boom }},
	)
	err = db.migrate(list)
	if kiosk.KindOf(err) != kiosk.KindStoreCorrupt || !errors.Is(err, boom) {
		t.Fatalf("failing migration: %v", err)
	}
	if v, _ := db.Schema(); v != 3 {
		t.Errorf("schema %d after failed migrations, want 3", v)
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("new")) != nil {
			t.Error("migration 4 committed although migration 5 failed")
		}
		return nil
	})
	if after, _ := db.VerifyChain(); after.Head != before.Head {
		t.Errorf("audit head %d → %d after a failed migration", before.Head, after.Head)
	}
}

// TestSchema1FileUpgrades opens a schema-1 file committed to the
// repository, so an upgrade is tested against bytes an older build really
// wrote, not only against what this build thinks it wrote.
// Regenerate with: go test ./store -run TestSchema1FileUpgrades -update-testdata
func TestSchema1FileUpgrades(t *testing.T) {
	if *updateTestdata {
		os.Remove(schema1File)
		db := openAtSchema(t, schema1File, migrations[:1])
		writeSchema1Records(t, db)
		db.bolt.Close()
	}
	orig, err := os.ReadFile(schema1File)
	if err != nil {
		t.Fatalf("%v (regenerate with -update-testdata)", err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{Now: func() time.Time { return migrateEpoch.Add(24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkUpgraded(t, db)
}
