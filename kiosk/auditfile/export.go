package auditfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
)

// Format names the export's layout, in its header line.
const Format = "passkiosk-audit-export/1"

// Header is the first line of an export: where it comes from and the
// chain it is a piece of. An export ends at the head its header names,
// so an auditor can hold the last entry's hash against the terminal's
// `passkioskctl status` or against a later export.
type Header struct {
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
	// Signature, where the terminal has a TPM, is its attestation key's
	// signature over the rest of the header.
	Signature *Signature `json:"signature,omitempty"`
}

// Entry is one entry of an export, readable as it stands: the person by
// sign-in name and ID, the credential by its label, the time in RFC 3339
// with its zone. Body is the CBOR the chain hashes, in base64, so the
// chain can be checked with standard tools: hash = SHA-256(hex-decoded
// prev ‖ base64-decoded body), and each prev is the hash of the line
// before. The readable fields are what Body says; Verify checks that.
type Entry struct {
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

// Body is the CBOR of w without its hash: the bytes its chain hash covers
// after the previous hash.
func Body(w Wire) ([]byte, error) {
	w.Hash = nil
	return cbor.Marshal(w)
}

// EntryOf is w's export line; body is Body(w).
func EntryOf(w Wire, body []byte) Entry {
	x := Entry{
		Seq: w.Seq, Time: w.When().Format(time.RFC3339Nano), Type: w.Type.String(),
		Actor: w.Actor, Terminal: w.Terminal, User: w.UserName, Credential: w.CredLabel,
		SessionID: w.SessionID, Detail: w.Detail, Items: w.Items,
		Prev: hex.EncodeToString(w.Prev), Hash: hex.EncodeToString(w.Hash),
		Body: base64.StdEncoding.EncodeToString(body),
	}
	if len(w.UserID) > 0 {
		x.UserID = kiosk.ReadableID(w.UserID)
	}
	if len(w.CredentialID) > 0 {
		x.CredentialID = hex.EncodeToString(w.CredentialID)
	}
	if w.Reason != kiosk.KindUnknown {
		x.Reason = w.Reason.String()
	}
	if w.Cause != kiosk.EndUnknown {
		x.Cause = w.Cause.String()
	}
	return x
}

// Check is what Verify proved about a file.
type Check struct {
	Header  *Header `json:"header,omitempty"` // nil: the file has no header line
	First   uint64  `json:"first"`
	Last    uint64  `json:"last"`
	Entries int     `json:"entries"`
	// StartsChain says the first entry follows the chain's genesis or
	// the anchor the header names, so nothing is missing before it;
	// otherwise StartPrev is the hash an earlier piece must end with.
	StartsChain bool   `json:"starts_chain"`
	StartPrev   string `json:"start_prev"`
	LastHash    string `json:"last_hash"`
	// SignedBy is the fingerprint of the TPM key whose signature over the
	// header verified ("" when the header is not signed).
	SignedBy string `json:"signed_by,omitempty"`
}

var genesis = make([]byte, sha256.Size)

// Verify checks an export on its own, away from the terminal: every
// entry's hash is recomputed from its body and the hash before it, the
// sequence numbers run without a gap, every readable field says what the
// hashed body says, and the last entry is the head the header names. It
// fails with kiosk.KindStoreCorrupt naming the first bad entry and its
// line. What it proves is that the file is an unbroken piece of one
// chain, as complete as its header says; a signed header is checked too,
// and SignedBy names the key that signed it.
func Verify(r io.Reader) (Check, error) {
	const op = "verify audit export"
	var c Check
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
			if err := c.readHeader(raw); err != nil {
				return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "line 1: %v", err)
			}
			continue
		}
		var x Entry
		if err := strictJSON(raw, &x); err != nil {
			return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "line %d is not an audit entry: %v", line, err)
		}
		w, body, problem := unpack(x)
		seq := x.Seq
		if problem == "" {
			seq, problem = w.Seq, c.place(w, prev)
		}
		if problem == "" {
			seq, problem = x.Seq, matches(x, w, body)
		}
		if problem != "" {
			return c, kiosk.Errorf(kiosk.KindStoreCorrupt, op, "entry %d (line %d): %s", seq, line, problem)
		}
		prev, c.Last, c.LastHash = w.Hash, w.Seq, x.Hash
		c.Entries++
	}
	if err := c.matchesHeader(); err != nil {
		return c, kiosk.E(kiosk.KindStoreCorrupt, op, err)
	}
	return c, nil
}

// readHeader takes the file's header line and checks its signature.
func (c *Check) readHeader(raw []byte) error {
	var h Header
	if err := strictJSON(raw, &h); err != nil || h.Format != Format {
		return fmt.Errorf("not a %s header: %v", Format, err)
	}
	c.Header = &h
	signedBy, err := checkSignature(h)
	c.SignedBy = signedBy
	return err
}

// unpack decodes an entry's hashed body and checks its hash; it returns
// the body with its hash set, or what is wrong.
func unpack(x Entry) (w Wire, body []byte, problem string) {
	body, err := base64.StdEncoding.DecodeString(x.Body)
	if err != nil {
		return w, nil, "body is not base64"
	}
	if err := cbor.Unmarshal(body, &w); err != nil {
		return w, nil, fmt.Sprintf("body does not decode: %v", err)
	}
	if len(w.Prev) != sha256.Size || len(w.Hash) != 0 {
		return w, nil, "body is not an audit entry without its hash"
	}
	if again, err := Body(w); err != nil || !bytes.Equal(again, body) {
		return w, nil, "body is not in canonical form"
	}
	hash, err := hex.DecodeString(x.Hash)
	if err != nil || len(hash) != sha256.Size {
		return w, nil, "hash is not 32 bytes of hex"
	}
	sum := sha256.New()
	sum.Write(w.Prev)
	sum.Write(body)
	if !bytes.Equal(sum.Sum(nil), hash) {
		return w, nil, "modified: hash does not match"
	}
	w.Hash = hash
	return w, body, ""
}

// place checks that w comes where it stands: the first entry where the
// header says the file starts (and whether it starts the chain), each
// later one right after the one before and chained to it.
func (c *Check) place(w Wire, prev []byte) string {
	if c.Entries == 0 {
		c.First, c.StartPrev = w.Seq, hex.EncodeToString(w.Prev)
		switch {
		case c.Header != nil && w.Seq == c.Header.AnchorSeq+1:
			c.StartsChain = c.StartPrev == c.Header.AnchorHash
		case c.Header == nil && w.Seq == 1:
			c.StartsChain = bytes.Equal(w.Prev, genesis)
		}
		if c.Header != nil && w.Seq != c.Header.From {
			return fmt.Sprintf("the header says the file starts at entry %d", c.Header.From)
		}
		return ""
	}
	switch {
	case w.Seq <= c.Last:
		return fmt.Sprintf("out of order: it comes after entry %d", c.Last)
	case w.Seq == c.Last+2:
		return fmt.Sprintf("entry %d is missing", c.Last+1)
	case w.Seq != c.Last+1:
		return fmt.Sprintf("entries %d to %d are missing", c.Last+1, w.Seq-1)
	case !bytes.Equal(w.Prev, prev):
		return fmt.Sprintf("does not follow entry %d: its prev hash differs", c.Last)
	}
	return ""
}

// matches checks the readable fields of x against its hashed body.
func matches(x Entry, w Wire, body []byte) string {
	if x.Seq != w.Seq {
		return fmt.Sprintf("its seq says %d but its hashed body says %d", x.Seq, w.Seq)
	}
	if field := differs(x, EntryOf(w, body)); field != "" {
		return field + " was edited: it is not what the hashed body says"
	}
	return ""
}

// matchesHeader checks the file ends where its header says.
func (c *Check) matchesHeader() error {
	h := c.Header
	switch {
	case h == nil:
	case uint64(c.Entries) != h.Entries:
		return fmt.Errorf("the header counts %d entries but the file holds %d: entries after %d are missing", h.Entries, c.Entries, c.Last)
	case c.Entries > 0 && (c.Last != h.HeadSeq || c.LastHash != h.HeadHash):
		return fmt.Errorf("the file ends at entry %d, not at the head (entry %d) its header names", c.Last, h.HeadSeq)
	}
	return nil
}

// differs names the first readable field of got that is not want's.
func differs(got, want Entry) string {
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
