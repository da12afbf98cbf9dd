package store

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// recordVersion is the version every record is written with. A record of
// another version is refused as corrupt: converting old records is the job
// of a migration (migrate.go), never of the reader.
const recordVersion = 1

// Stamp and Unstamp carry times as Unix nanoseconds, in the store's
// records and the fleet directory's alike. The zero time is 0, so "never"
// (an unused code, an open session) has one encoding. Times come back in
// UTC.
func Stamp(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func Unstamp(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// record is implemented by every wire type: it converts to the exported
// record and reports a bad field value as an error.
type record[R any] interface {
	version() uint
	record() (*R, error)
}

// encodeWire encodes a wire value in canonical CTAP2 CBOR.
func encodeWire(op string, w any) ([]byte, error) {
	b, err := cbor.Marshal(w)
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	return b, nil
}

// decodeRecord checks the seal of the value v stored under key k, decodes
// the CBOR inside as wire type W, converts it to its record R and
// insists that encoding the record again gives exactly b. That one check
// refuses non-canonical bytes, unknown fields and values the record type
// cannot hold, so a record that decodes always re-encodes to the stored
// bytes (the property the audit chain's hashes and the fuzz target rely on).
func decodeRecord[R any, W record[R]](op string, k, v []byte, enc func(*R) ([]byte, error)) (*R, error) {
	b, err := unseal(op, k, v)
	if err != nil {
		return nil, err
	}
	return decodeWire[R, W](op, b, enc)
}

// decodeWire is decodeRecord's check of the CBOR inside the seal.
func decodeWire[R any, W record[R]](op string, b []byte, enc func(*R) ([]byte, error)) (*R, error) {
	var w W
	if err := cbor.Unmarshal(b, &w); err != nil {
		return nil, kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	if v := w.version(); v != recordVersion {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "record version %d, this build reads version %d", v, recordVersion)
	}
	r, err := w.record()
	if err != nil {
		return nil, kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	again, err := enc(r)
	if err != nil {
		return nil, kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	if !bytes.Equal(again, b) {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "record is not in canonical form")
	}
	return r, nil
}

// u64 is a big-endian uint64 key, so bbolt's byte order is numeric order.
func u64(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

func fromU64(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// clone copies bytes out of a bbolt transaction: slices bbolt returns are
// only valid until the transaction ends.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// unmarshalStrict decodes small internal values (chain points) under the
// project's strict CBOR rules.
func unmarshalStrict(b []byte, v any) error { return cbor.Unmarshal(b, v) }

// Every value in the file is sealed: its bytes are followed by the CRC-32C
// of the key and those bytes, 4 bytes big-endian. bbolt checksums only its
// meta pages, not the pages that hold data, so without the seal a flipped
// bit in a record would read back as a different, valid record. The audit
// chain's hashes protect audit entries against deliberate edits; the seal
// protects every value, and binds it to its key, against damage.
const sealLen = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func sealSum(k, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, body)
}

func seal(k, body []byte) []byte {
	out := make([]byte, len(body), len(body)+sealLen)
	copy(out, body)
	return binary.BigEndian.AppendUint32(out, sealSum(k, body))
}

// unseal returns the body of a sealed value; the body aliases v.
func unseal(op string, k, v []byte) ([]byte, error) {
	if len(v) < sealLen {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "value under key %x is %d bytes, shorter than its seal", k, len(v))
	}
	body := v[:len(v)-sealLen]
	if binary.BigEndian.Uint32(v[len(body):]) != sealSum(k, body) {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "value under key %x is damaged: checksum mismatch", k)
	}
	return body, nil
}

// put stores body sealed under k.
func put(b *bolt.Bucket, k, body []byte) error { return b.Put(k, seal(k, body)) }
