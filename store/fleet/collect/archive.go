package collect

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk/auditfile"
)

// fileSuffix names a terminal's archive file: <name>.jsonl in the
// archive directory, one auditfile.Entry per line without a header, so
// auditfile.Verify checks it as it stands.
const fileSuffix = ".jsonl"

// archiveFile is one terminal's archive. Appends are serialised by the
// collector (one worker per terminal at a time); size is read by
// searches under mu, so they never read a line being written.
type archiveFile struct {
	path string
	f    *os.File

	mu       sync.Mutex
	size     int64
	first    uint64
	last     uint64
	lastHash []byte
	entries  int
}

// openArchive opens (or creates) a terminal's archive and checks it
// whole with auditfile.Verify. A last line cut short (the collector died
// in mid-write, before its fsync) is cut off: those entries are still in
// etcd, which is emptied only after the fsync. Any other damage is an
// error: the archive is left as it is.
func openArchive(dir, name string) (*archiveFile, string, error) {
	path := filepath.Join(dir, name+fileSuffix)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", err
	}
	a := &archiveFile{path: path, f: f}
	repaired, err := a.cutTornTail()
	if err != nil {
		f.Close()
		return nil, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, "", err
	}
	c, err := auditfile.Verify(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("archive %s: %w", path, err)
	}
	a.first, a.last, a.entries = c.First, c.Last, c.Entries
	if c.Entries > 0 {
		if a.lastHash, err = hex.DecodeString(c.LastHash); err != nil {
			f.Close()
			return nil, "", err
		}
	}
	return a, repaired, nil
}

// cutTornTail truncates the file after its last newline and says what
// it cut ("" when nothing).
func (a *archiveFile) cutTornTail() (string, error) {
	fi, err := a.f.Stat()
	if err != nil {
		return "", err
	}
	size := fi.Size()
	end := size
	buf := make([]byte, 4096)
	for end > 0 {
		n := int64(len(buf))
		if end < n {
			n = end
		}
		if _, err := a.f.ReadAt(buf[:n], end-n); err != nil {
			return "", err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	a.size = end
	if end == size {
		return "", nil
	}
	if err := a.f.Truncate(end); err != nil {
		return "", err
	}
	if err := a.f.Sync(); err != nil {
		return "", err
	}
	return fmt.Sprintf("cut %d bytes of a line left unfinished", size-end), nil
}

// append writes lines and syncs them to disk; on failure the file is
// cut back to where it was.
func (a *archiveFile) append(lines []auditfile.Entry) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range lines {
		if err := enc.Encode(lines[i]); err != nil {
			return err
		}
	}
	a.mu.Lock()
	old := a.size
	a.mu.Unlock()
	if _, err := a.f.Write(buf.Bytes()); err != nil {
		_ = a.f.Truncate(old)
		return err
	}
	if err := a.f.Sync(); err != nil {
		_ = a.f.Truncate(old)
		return err
	}
	last := lines[len(lines)-1]
	h, err := hex.DecodeString(last.Hash)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == 0 {
		a.first = lines[0].Seq
	}
	a.size += int64(buf.Len())
	a.last, a.lastHash, a.entries = last.Seq, h, a.entries+len(lines)
	return nil
}

// head is the newest archived entry.
func (a *archiveFile) head() (uint64, []byte, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.lastHash, a.entries
}

func (a *archiveFile) close() error { return a.f.Close() }

// scan calls fn with every line the archive held when it was called.
func (a *archiveFile) scan(fn func(line []byte) error) error {
	a.mu.Lock()
	size := a.size
	a.mu.Unlock()
	r := bufio.NewReaderSize(io.NewSectionReader(a.f, 0, size), 1<<16)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: read the rest of it.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// values returns, for the sequence numbers asked, the value the shipped
// entry had in etcd (its CBOR with Hash), rebuilt from the archived body
// and hash. Numbers the archive does not hold are missing from the map.
func (a *archiveFile) values(seqs map[uint64]bool) (map[uint64][]byte, error) {
	out := map[uint64][]byte{}
	err := a.scan(func(line []byte) error {
		var x struct {
			Seq  uint64 `json:"seq"`
			Hash string `json:"hash"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal(line, &x); err != nil {
			return err
		}
		if !seqs[x.Seq] {
			return nil
		}
		body, err := base64.StdEncoding.DecodeString(x.Body)
		if err != nil {
			return err
		}
		var w auditfile.Wire
		if err := cbor.Unmarshal(body, &w); err != nil {
			return err
		}
		if w.Hash, err = hex.DecodeString(x.Hash); err != nil {
			return err
		}
		v, err := cbor.Marshal(w)
		if err != nil {
			return err
		}
		out[x.Seq] = v
		return nil
	})
	return out, err
}

// archivedNames lists the terminals dir holds archives of.
func archivedNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), fileSuffix); ok && e.Type().IsRegular() {
			out = append(out, name)
		}
	}
	return out, nil
}
