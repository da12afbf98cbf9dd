package journald_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/journald"
	"passkiosk/store/storetest"
)

// listen is a journal socket: a Unix datagram socket as journald binds.
func listen(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "socket")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// parse reads a native protocol datagram as journald does
// (systemd's journal-file protocol: KEY=value lines, or KEY, newline,
// 64-bit little-endian length, value, newline).
func parse(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("field without newline: %q", b)
		}
		line := b[:nl]
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			out[string(line[:eq])] = string(line[eq+1:])
			b = b[nl+1:]
			continue
		}
		rest := b[nl+1:]
		n := binary.LittleEndian.Uint64(rest[:8])
		out[string(line)] = string(rest[8 : 8+n])
		if rest[8+n] != '\n' {
			t.Fatalf("binary field %s not ended by a newline", line)
		}
		b = rest[8+n+1:]
	}
	return out
}

func receive(t *testing.T, c *net.UnixConn) map[string]string {
	t.Helper()
	buf := make([]byte, 1<<20)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, buf[:n])
}

func TestEveryCommittedEntryReachesTheJournalWithFields(t *testing.T) {
	sock, path := listen(t)
	db, _ := storetest.Open(t, nil)
	j, err := journald.New(path, "passkiosk")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var sendErr error
	if err := db.OnAudit(func(e store.AuditEvent) {
		if err := j.Send(e); err != nil {
			sendErr = err
		}
	}); err != nil {
		t.Fatal(err)
	}
	ch := store.Change{Actor: "root (uid 0, pid 1)", Terminal: "Ward 7"}
	if err := db.PutUser(storetest.User("alice"), ch); err != nil {
		t.Fatal(err)
	}
	got := receive(t, sock)
	want := map[string]string{
		"SYSLOG_IDENTIFIER": "passkiosk", "PASSKIOSK_EVENT": "user-created", "PASSKIOSK_USER": "alice", "PASSKIOSK_USER_ID": "alice",
		"PASSKIOSK_TERMINAL": "Ward 7", "PASSKIOSK_ACTOR": "root (uid 0, pid 1)", "PRIORITY": "6", "PASSKIOSK_DETAIL_NAME": "alice",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	seq, hash, _ := db.AuditHead()
	n := strconv.FormatUint(seq, 10)
	if got["PASSKIOSK_SEQ"] != n || len(got["PASSKIOSK_HASH"]) != 64 || !strings.HasPrefix(got["MESSAGE"], "audit "+n+" user-created user=alice") || len(hash) != 32 {
		t.Errorf("seq, hash or message: %v", got)
	}

	// A failure spike is an alert; a list of items with newlines goes in
	// the binary form.
	if _, err := db.Append(store.AuditEvent{Type: kiosk.EventFailureSpike, Terminal: "Ward 7", Items: []string{"a", "b"},
		Detail: map[string]string{"failures": "12", "window": "5m0s"}}); err != nil {
		t.Fatal(err)
	}
	got = receive(t, sock)
	if got["PASSKIOSK_EVENT"] != "failure-spike" || got["PRIORITY"] != "2" || got["PASSKIOSK_ITEMS"] != "a\nb" || got["PASSKIOSK_DETAIL_FAILURES"] != "12" {
		t.Errorf("spike: %v", got)
	}

	// An entry too large for one datagram goes in a memfd.
	big := strings.Repeat("x", 300<<10)
	sock.SetReadBuffer(64 << 10)
	if err := j.Send(store.AuditEvent{Seq: 99, Type: kiosk.EventWipe, Items: []string{big}}); err != nil {
		t.Fatalf("large entry: %v", err)
	}
	oob := make([]byte, 64)
	sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, oobn, _, _, err := sock.ReadMsgUnix(make([]byte, 16), oob)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v, %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights %v, %v", fds, err)
	}
	f := os.NewFile(uintptr(fds[0]), "memfd")
	defer f.Close()
	// journald maps the memfd from its start; the shared offset is at its end.
	body, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(t, body); got["PASSKIOSK_SEQ"] != "99" || got["PASSKIOSK_ITEMS"] != big {
		t.Fatalf("the large entry's memfd holds %d bytes, seq %q", len(body), got["PASSKIOSK_SEQ"])
	}
	if sendErr != nil {
		t.Fatal(sendErr)
	}
}
