package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// ExportFormat names the layout Export writes, in its header line.
const ExportFormat = "passkiosk-audit-export/1"

// ExportHeader is the first line of an export: where it comes from and
// the chain it is a piece of. An export ends at the head its header names,
// so an auditor can hold the last entry's hash against the terminal's
// `passkioskctl status` or against a later export.
type ExportHeader struct {
	Format     string `json:"format"`
	Terminal   string `json:"terminal"`
	ExportedAt string `json:"exported_at"` // RFC 3339
	From       uint64 `json:"from"`        // first entry in the file (0: none)
	To         uint64 `json:"to"`          // last entry in the file, the head when exported
	Entries    uint64 `json:"entries"`
	AnchorSeq  uint64 `json:"anchor_seq"`  // the newest pruned entry (0: none pruned)
	AnchorHash string `json:"anchor_hash"` // its hash (zeros: the chain's genesis)
	HeadSeq    uint64 `json:"head_seq"`
	HeadHash   string `json:"head_hash"`
}

// ExportEntry is one entry of an export, readable as it stands: the person
// by sign-in name and ID, the credential by its label, times in RFC 3339
// with their zone. Body is the canonical CBOR the chain hashes, in base64,
// so the chain can be checked with standard tools:
// hash = SHA-256(hex-decoded prev ‖ base64-decoded body), and each prev is
// the hash of the line before. The readable fields are what Body says;
// VerifyExport checks they match.
type ExportEntry struct {
	Seq          uint64            `json:"seq"`
	Time         string            `json:"time"`
	Type         string            `json:"type"`
	Actor        string            `json:"actor,omitempty"`
	Terminal     string            `json:"terminal,omitempty"`
	User         string            `json:"user,omitempty"`    // sign-in name when written
	UserID       string            `json:"user_id,omitempty"` // kiosk.ReadableID
	Credential   string            `json:"credential,omitempty"`
	CredentialID string            `json:"credential_id,omitempty"` // hex
	SessionID    uint64            `json:"session,omitempty"`
	Reason       string            `json:"reason,omitempty"`
	Cause        string            `json:"cause,omitempty"`
	Detail       map[string]string `json:"detail,omitempty"`
	Items        []string          `json:"items,omitempty"`
	Prev         string            `json:"prev"`
	Hash         string            `json:"hash"`
	Body         string            `json:"body"`
}

// hashedBody is the canonical CBOR of e without its own hash: the bytes
// its chain hash covers after the previous hash.
func hashedBody(e *AuditEvent) ([]byte, error) {
	w := e.wire()
	w.Hash = nil
	return encodeWire("hash audit event", w)
}

// exportEntry is e's export line.
func exportEntry(e *AuditEvent) (ExportEntry, error) {
	body, err := hashedBody(e)
	if err != nil {
		return ExportEntry{}, err
	}
	x := ExportEntry{
		Seq: e.Seq, Time: e.Time.Format(time.RFC3339Nano), Type: e.Type.String(),
		Actor: e.Actor, Terminal: e.Terminal, User: e.UserName, Credential: e.CredentialLabel,
		SessionID: e.SessionID, Detail: e.Detail, Items: e.Items,
		Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash),
		Body: base64.StdEncoding.EncodeToString(body),
	}
	if len(e.UserID) > 0 {
		x.UserID = kiosk.ReadableID(e.UserID)
	}
	if len(e.CredentialID) > 0 {
		x.CredentialID = hex.EncodeToString(e.CredentialID)
	}
	if e.Reason != kiosk.KindUnknown {
		x.Reason = e.Reason.String()
	}
	if e.Cause != kiosk.EndUnknown {
		x.Cause = e.Cause.String()
	}
	return x, nil
}

// Export writes a header line (ExportHeader) and then every audit entry
// from sequence number from (or the oldest kept) up to the head as it was
// when the export began, one ExportEntry per line, and returns how many
// lines it wrote, the header included. Entries appended meanwhile belong
// to the next export.
func (db *DB) Export(w io.Writer, from uint64, terminal string, at time.Time) (int, error) {
	const op = "export audit log"
	var anchor, head chainPoint
	if err := db.view(op, func(tx *bolt.Tx) (err error) {
		anchor, head, err = chainEnds(tx)
		return err
	}); err != nil {
		return 0, err
	}
	from = max(from, anchor.Seq+1)
	h := ExportHeader{Format: ExportFormat, Terminal: terminal, ExportedAt: db.at(at).Format(time.RFC3339),
		AnchorSeq: anchor.Seq, AnchorHash: hex.EncodeToString(anchor.Hash), HeadSeq: head.Seq, HeadHash: hex.EncodeToString(head.Hash)}
	if from <= head.Seq {
		h.From, h.To, h.Entries = from, head.Seq, head.Seq-from+1
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
			x, err := exportEntry(&batch[i])
			if err != nil {
				return lines, err
			}
			if err := enc.Encode(x); err != nil {
				return lines, kiosk.E(kiosk.KindUnknown, op, err)
			}
			lines++
			from++
		}
	}
	return lines, nil
}

// ExportCheck is what VerifyExport proved about a file.
type ExportCheck struct {
	Header  *ExportHeader `json:"header,omitempty"` // nil: the file has no header line
	First   uint64        `json:"first"`
	Last    uint64        `json:"last"`
	Entries int           `json:"entries"`
	// StartsChain says the first entry follows the chain's genesis or
	// the anchor the header names, so nothing is missing before it;
	// otherwise StartPrev is the hash an earlier piece must end with.
	StartsChain bool   `json:"starts_chain"`
	StartPrev   string `json:"start_prev"`
	LastHash    string `json:"last_hash"`
}

// VerifyExport checks an export on its own, away from the terminal: every
// entry's hash is recomputed from its body and the hash before it, the
// sequence numbers run without a gap, every readable field says what the
// hashed body says, and the last entry is the head the header names. It
// fails with kiosk.KindStoreCorrupt naming the first bad entry and its
// line. What it proves is that the file is an unbroken piece of one
// chain, as complete as its header says; the header itself is not signed.
func VerifyExport(r io.Reader) (ExportCheck, error) {
	const op = "verify audit export"
	var c ExportCheck
	bad := func(line int, seq uint64, format string, args ...any) error {
		args = append([]any{seq, line}, args...)
		return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d (line %d): "+format, args...)
	}
	dec := json.NewDecoder(r)
	var prev []byte
	for line := 1; ; line++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "line %d is not JSON: %v", line, err)
		}
		if line == 1 && bytes.Contains(raw, []byte(`"format"`)) {
			var h ExportHeader
			if err := strictJSON(raw, &h); err != nil || h.Format != ExportFormat {
				return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "line 1 is not a %s header: %v", ExportFormat, err)
			}
			c.Header = &h
			continue
		}
		var x ExportEntry
		if err := strictJSON(raw, &x); err != nil {
			return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "line %d is not an audit entry: %v", line, err)
		}
		body, err := base64.StdEncoding.DecodeString(x.Body)
		if err != nil {
			return c, bad(line, x.Seq, "body is not base64")
		}
		var w auditWire
		if err := unmarshalStrict(body, &w); err != nil {
			return c, bad(line, x.Seq, "body does not decode: %v", err)
		}
		hash, err := hex.DecodeString(x.Hash)
		if err != nil || len(hash) != sha256.Size {
			return c, bad(line, x.Seq, "hash is not 32 bytes of hex")
		}
		w.Hash = hash
		e, err := w.record()
		if err != nil {
			return c, bad(line, x.Seq, "body does not decode: %v", err)
		}
		if again, err := hashedBody(e); err != nil || !bytes.Equal(again, body) {
			return c, bad(line, x.Seq, "body is not in canonical form")
		}
		sum := sha256.New()
		sum.Write(e.Prev)
		sum.Write(body)
		if !bytes.Equal(sum.Sum(nil), hash) {
			return c, bad(line, x.Seq, "modified: hash does not match")
		}
		if c.Entries == 0 {
			c.First, c.StartPrev = e.Seq, hex.EncodeToString(e.Prev)
			switch {
			case c.Header != nil && e.Seq == c.Header.AnchorSeq+1:
				c.StartsChain = hex.EncodeToString(e.Prev) == c.Header.AnchorHash
			case c.Header == nil && e.Seq == 1:
				c.StartsChain = bytes.Equal(e.Prev, genesis.Hash)
			}
			if c.Header != nil && e.Seq != c.Header.From {
				return c, bad(line, x.Seq, "the header says the file starts at entry %d", c.Header.From)
			}
		} else {
			if e.Seq != c.Last+1 {
				return c, bad(line, x.Seq, "entries %d to %d are missing", c.Last+1, e.Seq-1)
			}
			if !bytes.Equal(e.Prev, prev) {
				return c, bad(line, x.Seq, "does not follow entry %d: its prev hash differs", c.Last)
			}
		}
		want, err := exportEntry(e)
		if err != nil {
			return c, bad(line, x.Seq, "%v", err)
		}
		if x.Seq != e.Seq {
			return c, bad(line, x.Seq, "its seq says %d but its hashed body says %d", x.Seq, e.Seq)
		}
		if field := differs(x, want); field != "" {
			return c, bad(line, x.Seq, "%s was edited: it is not what the hashed body says", field)
		}
		prev, c.Last, c.LastHash = hash, e.Seq, x.Hash
		c.Entries++
	}
	if h := c.Header; h != nil {
		switch {
		case uint64(c.Entries) != h.Entries:
			return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "the header counts %d entries but the file holds %d: entries after %d are missing", h.Entries, c.Entries, c.Last)
		case c.Entries > 0 && (c.Last != h.HeadSeq || c.LastHash != h.HeadHash):
			return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "the file ends at entry %d, not at the head (entry %d) its header names", c.Last, h.HeadSeq)
		}
	}
	return c, nil
}

// differs names the first readable field of got that is not want's.
func differs(got, want ExportEntry) string {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if bytes.Equal(g, w) {
		return ""
	}
	var gm, wm map[string]json.RawMessage
	json.Unmarshal(g, &gm)
	json.Unmarshal(w, &wm)
	for _, k := range []string{"seq", "time", "type", "actor", "terminal", "user", "user_id", "credential", "credential_id",
		"session", "reason", "cause", "detail", "items", "prev", "hash", "body"} {
		if !bytes.Equal(gm[k], wm[k]) {
			return k
		}
	}
	return "an entry's field"
}

// strictJSON decodes one JSON value, refusing unknown fields.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
