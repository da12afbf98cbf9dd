package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// benchDir is where benchmark stores live: PASSKIOSK_BENCH_DIR if set (to
// measure the appliance's real disk), else the test's temporary directory.
// Every benchmark keeps bbolt's defaults, so each commit is fsynced.
func benchDir(b *testing.B) string {
	if d := os.Getenv("PASSKIOSK_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

func benchStore(b *testing.B) *DB {
	b.Helper()
	db, err := Open(filepath.Join(benchDir(b), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.PutUser(User{ID: []byte("alice"), State: UserActive}, Change{}); err != nil {
		b.Fatal(err)
	}
	if err := db.AddCredential(Credential{ID: []byte("k1"), UserID: []byte("alice"), Kind: KindRoaming, PublicKey: make([]byte, 77)}, Change{}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkSignInBookkeeping is one successful sign-in's write: read the
// credential, store its new counter, append the audit entry, one fsynced
// transaction.
func BenchmarkSignInBookkeeping(b *testing.B) {
	db := benchStore(b)
	b.ReportAllocs()
	var n uint32
	for b.Loop() {
		n++
		if _, _, err := db.RecordSignIn(SignIn{CredentialID: []byte("k1"), Counter: n, Terminal: "ward3-a"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuditAppend(b *testing.B) {
	db := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Append(AuditEvent{Type: kiosk.EventSessionEnded, Terminal: "ward3-a", UserID: []byte("alice"), SessionID: 7, Cause: kiosk.EndIdle}); err != nil {
			b.Fatal(err)
		}
	}
}

// fillAudit appends n entries in transactions of 1000, to set up the
// read benchmarks quickly.
func fillAudit(b *testing.B, db *DB, n int) {
	b.Helper()
	for done := 0; done < n; done += 1000 {
		err := db.update("fill", func(tx *bolt.Tx) error {
			for i := 0; i < 1000 && done+i < n; i++ {
				e := AuditEvent{Time: time.Unix(1_700_000_000+int64(done+i), 0), Type: kiosk.EventSignIn, Terminal: "ward3-a", UserID: []byte("alice"), CredentialID: []byte("k1"), Detail: map[string]string{"n": fmt.Sprint(i)}}
				if _, err := appendAudit(tx, &e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyChain10k(b *testing.B) {
	db := benchStore(b)
	fillAudit(b, db, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		st, err := db.VerifyChain()
		if err != nil || st.Entries < 10_000 {
			b.Fatalf("%+v, %v", st, err)
		}
	}
}

// BenchmarkOpen10k is the appliance's start on a store holding 10k audit
// entries: bbolt's check, every record decoded, the chain verified.
func BenchmarkOpen10k(b *testing.B) {
	db := benchStore(b)
	fillAudit(b, db, 10_000)
	path := db.Path()
	db.Close()
	b.ReportAllocs()
	for b.Loop() {
		db, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}

// BenchmarkSignInBookkeepingNoSync is the same work with fsync switched off,
// to separate the CPU and allocation cost from the disk's flush. The
// appliance never runs like this.
func BenchmarkSignInBookkeepingNoSync(b *testing.B) {
	db := benchStore(b)
	db.bolt.NoSync = true
	b.ReportAllocs()
	var n uint32
	for b.Loop() {
		n++
		if _, _, err := db.RecordSignIn(SignIn{CredentialID: []byte("k1"), Counter: n, Terminal: "ward3-a"}); err != nil {
			b.Fatal(err)
		}
	}
}
