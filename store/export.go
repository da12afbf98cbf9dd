package store

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
)

// hashedBody is the canonical CBOR of e without its own hash: the bytes
// its chain hash covers after the previous hash.
func hashedBody(e *AuditEvent) ([]byte, error) {
	b, err := auditfile.Body(auditfile.Wire(e.wire()))
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "hash audit event", err)
	}
	return b, nil
}

// exportBatch bounds how many entries one read transaction holds, so a slow
// writer w never keeps a transaction open long (a long reader stalls a
// writer that must grow the file's mapping).
const exportBatch = 512

// Entry is e read as an export line.
func (e *AuditEvent) Entry() (auditfile.Entry, error) {
	body, err := hashedBody(e)
	if err != nil {
		return auditfile.Entry{}, err
	}
	return auditfile.EntryOf(auditfile.Wire(e.wire()), body), nil
}

// Export writes an auditfile.Header line and then every audit entry from
// sequence number from (or the oldest kept) up to the head as it was when
// the export began, one auditfile.Entry per line, and returns how many
// lines it wrote, the header included. Entries appended meanwhile belong
// to the next export. auditfile.Verify checks such a file anywhere.
//
// sign, when not nil, signs the header before it is written
// (auditfile.Sign with the terminal's TPM); a failure to sign fails the
// export rather than hand out an unsigned file where a signed one was
// asked for.
func (db *DB) Export(w io.Writer, from uint64, terminal string, at time.Time, sign func(*auditfile.Header) error) (int, error) {
	const op = "export audit log"
	var anchor, head chainPoint
	if err := db.view(op, func(tx *bolt.Tx) (err error) {
		anchor, head, err = chainEnds(tx)
		return err
	}); err != nil {
		return 0, err
	}
	from = max(from, anchor.Seq+1)
	h := auditfile.Header{Format: auditfile.Format, Terminal: terminal, ExportedAt: db.at(at).Format(time.RFC3339),
		AnchorSeq: anchor.Seq, AnchorHash: hex.EncodeToString(anchor.Hash), HeadSeq: head.Seq, HeadHash: hex.EncodeToString(head.Hash)}
	if from <= head.Seq {
		h.From, h.To, h.Entries = from, head.Seq, head.Seq-from+1
	}
	if sign != nil {
		if err := sign(&h); err != nil {
			return 0, kiosk.E(kiosk.KindDevice, op+": sign the header", err)
		}
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(h); err != nil {
		return 0, kiosk.E(kiosk.KindUnknown, op, err)
	}
	lines := 1
	for from <= head.Seq {
		batch, err := db.Events(from, int(min(exportBatch, head.Seq-from+1)))
		if err != nil {
			return lines, err
		}
		if len(batch) == 0 {
			return lines, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d is missing", from)
		}
		for i := range batch {
			if batch[i].Seq != from {
				return lines, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d is missing: next stored entry is %d", from, batch[i].Seq)
			}
			line, err := batch[i].Entry()
			if err != nil {
				return lines, err
			}
			if err := enc.Encode(line); err != nil {
				return lines, kiosk.E(kiosk.KindUnknown, op, err)
			}
			lines++
			from++
		}
	}
	return lines, nil
}
