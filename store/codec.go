package store

import (
	"bytes"
	"encoding/binary"
	"time"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// recordVersion is the version every record is written with. A record of
// another version is refused as corrupt: converting old records is the job
// of a migration (migrate.go), never of the reader.
const recordVersion = 1

// stamp and unstamp carry times as Unix nanoseconds. The zero time is 0, so
// "never" (an unused code, an open session) has one encoding. Times come back
// in UTC.
func stamp(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func unstamp(n int64) time.Time {
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

// decodeRecord decodes b as wire type W, converts it to its record R and
// insists that encoding the record again gives exactly b. That one check
// refuses non-canonical bytes, unknown fields and values the record type
// cannot hold, so a record that decodes always re-encodes to the stored
// bytes (the property the audit chain's hashes and the fuzz target rely on).
func decodeRecord[R any, W record[R]](op string, b []byte, enc func(*R) ([]byte, error)) (*R, error) {
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
