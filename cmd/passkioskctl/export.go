package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
)

// audit export: an export is either complete or an error, never a file
// that looks complete and is not.

// export streams the audit log from seq from to w and returns how many
// entries arrived. Only the appliance's last part says an export is
// complete, and it must count as many entries as arrived; anything else,
// an interruption (Ctrl-C) included, is an error that ends with what was
// left behind (note, given how many entries arrived).
func (e *env) export(w io.Writer, from uint64, note func(lines int) string) (int, error) {
	lines := 0
	var werr error
	last, err := e.client.Stream(e.ctx, admin.CmdAuditExport, admin.AuditArgs{From: from}, func(raw json.RawMessage) bool {
		if _, werr = fmt.Fprintf(w, "%s\n", raw); werr != nil {
			return false
		}
		if lines == 0 && isExportHeader(raw) {
			e.exportHeader = true
		}
		lines++
		return true
	})
	switch {
	case werr != nil:
		return lines, incomplete(fmt.Errorf("audit export: %v", werr), note(lines))
	case kiosk.KindOf(err) == kiosk.KindCancelled:
		return lines, incomplete(fmt.Errorf("audit export interrupted after %d entries", lines), note(lines))
	case err != nil:
		return lines, incomplete(err, note(lines))
	}
	var done struct {
		Exported int `json:"exported"`
	}
	if err := json.Unmarshal(last, &done); err != nil || done.Exported != lines {
		return lines, incomplete(fmt.Errorf("audit export: the appliance counted %d entries but %d arrived", done.Exported, lines), note(lines))
	}
	return lines, nil
}

// exportFile exports into a temporary file beside path, and gives it the
// name path only once the export is complete and on disk: an interrupted
// or failed export leaves no file that could pass for the whole log. An
// existing path is never replaced.
func (e *env) exportFile(path string, from uint64) error {
	var n int
	exported := false
	err := writeNew(path, func(w io.Writer) (err error) {
		n, err = e.export(w, from, func(int) string { return "nothing was written to " + path })
		exported = err == nil
		return err
	})
	if err != nil && exported {
		return fmt.Errorf("audit export: %v; nothing was written to %s", err, path)
	}
	if err != nil {
		return err
	}
	if e.exportHeader {
		n--
	}
	fmt.Fprintf(e.stderr, "exported %d entries to %s\n", n, path)
	return nil
}

// writeNew makes path with what fill writes, through a temporary file
// beside it that takes the name only once complete and on disk (place):
// a failed or interrupted write leaves no file that could pass for a
// whole one. An existing path is never replaced.
func writeNew(path string, fill func(io.Writer) error) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: file exists; choose a new name", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // nothing left after place
	bw := bufio.NewWriterSize(tmp, 64<<10)
	err = fill(bw)
	if err == nil {
		if err = bw.Flush(); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return place(tmp.Name(), path)
}

// place gives the finished file tmp the name path without replacing a
// file that appeared there meanwhile (a hard link fails if path exists),
// and makes the name durable. File systems without hard links (FAT on a
// USB stick) get a rename after a last check.
func place(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		os.Remove(tmp)
	case errors.Is(err, os.ErrExist):
		return fmt.Errorf("%s: file exists; choose a new name", path)
	default:
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("%s: file exists; choose a new name", path)
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		defer dir.Close()
		return dir.Sync()
	}
	return nil
}

// incomplete adds what an unfinished export left behind to err, keeping
// the exit code it stands for.
func incomplete(err error, leftBehind string) error {
	if leftBehind == "" {
		return err
	}
	var we *admin.Error
	if errors.As(err, &we) {
		c := *we
		c.Message += "; " + leftBehind
		return &c
	}
	return fmt.Errorf("%w; %s", err, leftBehind)
}
