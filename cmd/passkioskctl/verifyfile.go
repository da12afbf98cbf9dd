package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/auditfile"
)

// isExportHeader says whether an export's line is its header
// (auditfile.Header) rather than an entry.
func isExportHeader(raw []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`{"format":`))
}

// verifyFile checks an exported file here, without the appliance: the
// same checks as the appliance's own verify, on the piece of the chain
// the file holds (auditfile.Verify).
func (e *env) verifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := auditfile.Verify(f)
	if err != nil {
		msg := err.Error()
		var ke *kiosk.Error
		if errors.As(err, &ke) && ke.Err != nil {
			msg = ke.Err.Error()
		}
		return &admin.Error{Code: admin.ExitFailed, Kind: kiosk.KindOf(err).String(),
			Message: fmt.Sprintf("%s does not verify: %s", path, msg)}
	}
	return e.emit(c, func() {
		w := e.stdout
		from := "unknown: the file has no header"
		if c.Header != nil {
			from = fmt.Sprintf("%q, exported %s", c.Header.Terminal, c.Header.ExportedAt)
		}
		if c.Entries == 0 {
			fmt.Fprintf(w, "%s: no entries\n  terminal: %s\n", path, from)
			return
		}
		fmt.Fprintf(w, "%s: intact, an unbroken piece of the audit chain\n", path)
		fmt.Fprintf(w, "  terminal: %s\n", from)
		fmt.Fprintf(w, "  entries:  %d to %d (%d): every hash recomputed, every field matches its hashed body\n", c.First, c.Last, c.Entries)
		if c.StartsChain {
			fmt.Fprintf(w, "  starts:   at the beginning of the kept chain (nothing missing before entry %d)\n", c.First)
		} else {
			fmt.Fprintf(w, "  starts:   after entry %d, whose hash must be %s\n", c.First-1, c.StartPrev)
			fmt.Fprintf(w, "            (the last hash of the export before this one)\n")
		}
		switch {
		case c.SignedBy != "":
			fmt.Fprintf(w, "  signed:   by the terminal's TPM key %s\n", c.SignedBy)
			fmt.Fprintf(w, "            (compare with \"tpm key\" in passkioskctl status on the terminal)\n")
		case c.Header != nil:
			fmt.Fprintf(w, "  signed:   no (the terminal had no TPM)\n")
		}
		if c.Header != nil {
			fmt.Fprintf(w, "  ends:     at the head when exported, entry %d, hash %s\n", c.Last, c.LastHash)
		} else {
			fmt.Fprintf(w, "  ends:     entry %d, hash %s\n", c.Last, c.LastHash)
		}
	})
}
