package storetest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/fido/cbor"
)

// RewriteAuditEntry edits audit entry seq in the store file at path, which
// no one may have open, the way someone with write access to the disk who
// knows the format could: it decodes the entry's CBOR map (keys as in
// store/doc.go), lets edit change it, encodes it again and recomputes the
// value's CRC-32C seal, so that only the hash chain can tell. Tests use it
// to see what a tampered log looks like to its readers.
func RewriteAuditEntry(t testing.TB, path string, seq uint64, edit func(entry map[uint64]any)) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open %s to tamper with it: %v", path, err)
	}
	defer b.Close()
	key := binary.BigEndian.AppendUint64(nil, seq)
	err = b.Update(func(tx *bolt.Tx) error {
		log := tx.Bucket([]byte("audit"))
		v := log.Get(key)
		if len(v) < 4 {
			return fmt.Errorf("no audit entry %d in %s", seq, path)
		}
		var m map[uint64]any
		if err := cbor.Unmarshal(v[:len(v)-4], &m); err != nil {
			return err
		}
		edit(m)
		body, err := cbor.Marshal(m)
		if err != nil {
			return err
		}
		tab := crc32.MakeTable(crc32.Castagnoli)
		sum := crc32.Update(crc32.Checksum(key, tab), tab, body)
		return log.Put(key, binary.BigEndian.AppendUint32(body, sum))
	})
	if err != nil {
		t.Fatalf("tamper with audit entry %d: %v", seq, err)
	}
}
