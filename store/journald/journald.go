package journald

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Socket is where systemd-journald takes native protocol datagrams.
const Socket = "/run/systemd/journal/socket"

// Journal sends entries to journald.
type Journal struct {
	socket     string
	identifier string

	mu   sync.Mutex
	conn *net.UnixConn
}

// New returns a Journal that sends to socket (Socket when empty), naming
// the program identifier in SYSLOG_IDENTIFIER. It fails when no journal
// listens there, so the appliance can say forwarding is off.
func New(socket, identifier string) (*Journal, error) {
	if socket == "" {
		socket = Socket
	}
	j := &Journal{socket: socket, identifier: identifier}
	if err := j.dial(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *Journal) dial() error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: j.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("journal socket %s: %w", j.socket, err)
	}
	j.conn = c
	return nil
}

// Close lets go of the socket.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn == nil {
		return nil
	}
	err := j.conn.Close()
	j.conn = nil
	return err
}

// Priority is the syslog severity of an entry: what a SIEM alerts on.
// A spike of failures, a possible cloned key and a wipe or session that
// failed are errors; failures and lockouts warnings; the rest notices of
// normal work.
func Priority(e store.AuditEvent) int {
	switch e.Type {
	case kiosk.EventFailureSpike, kiosk.EventPossibleClone:
		return 2 // crit
	case kiosk.EventSessionStartFailed, kiosk.EventRelaunchFailed:
		return 3 // err
	case kiosk.EventWipe:
		if e.Detail["outcome"] != "" && e.Detail["outcome"] != "ok" && e.Detail["outcome"] != "recovered" {
			return 3
		}
	case kiosk.EventLockout, kiosk.EventSignInFailed, kiosk.EventEnrollFailed, kiosk.EventEnrollCodeRefused,
		kiosk.EventKeyTapFailed, kiosk.EventServiceStateChanged:
		return 4 // warning
	}
	return 6 // info
}

// Fields are the journal fields of an entry, in a stable order.
func Fields(e store.AuditEvent) [][2]string {
	f := [][2]string{
		{"MESSAGE", Message(e)},
		{"PRIORITY", strconv.Itoa(Priority(e))},
		{"PASSKIOSK_EVENT", e.Type.String()},
		{"PASSKIOSK_SEQ", strconv.FormatUint(e.Seq, 10)},
		{"PASSKIOSK_TIME", e.Time.Format(time.RFC3339Nano)},
		{"PASSKIOSK_HASH", hex.EncodeToString(e.Hash)},
	}
	add := func(k, v string) {
		if v != "" {
			f = append(f, [2]string{k, v})
		}
	}
	add("PASSKIOSK_TERMINAL", e.Terminal)
	add("PASSKIOSK_ACTOR", e.Actor)
	add("PASSKIOSK_USER", e.UserName)
	if len(e.UserID) > 0 {
		add("PASSKIOSK_USER_ID", kiosk.ReadableID(e.UserID))
	}
	add("PASSKIOSK_CREDENTIAL", e.CredentialLabel)
	if len(e.CredentialID) > 0 {
		add("PASSKIOSK_CREDENTIAL_ID", hex.EncodeToString(e.CredentialID))
	}
	if e.SessionID != 0 {
		add("PASSKIOSK_SESSION", strconv.FormatUint(e.SessionID, 10))
	}
	if e.Reason != kiosk.KindUnknown {
		add("PASSKIOSK_REASON", e.Reason.String())
	}
	if e.Cause != kiosk.EndUnknown {
		add("PASSKIOSK_CAUSE", e.Cause.String())
	}
	for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
		if name := fieldName("PASSKIOSK_DETAIL_" + k); name != "" {
			add(name, e.Detail[k])
		}
	}
	if len(e.Items) > 0 {
		add("PASSKIOSK_ITEMS", strings.Join(e.Items, "\n"))
	}
	return f
}

// fieldName makes a journal field name: upper-case letters, digits and
// '_', at most 64 characters, not starting with '_' (journald ignores or
// reserves others).
func fieldName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// Message is the entry in one line for people reading the journal.
func Message(e store.AuditEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit %d %s", e.Seq, e.Type)
	if e.UserName != "" {
		fmt.Fprintf(&b, " user=%s", e.UserName)
	} else if len(e.UserID) > 0 {
		fmt.Fprintf(&b, " user-id=%s", kiosk.ReadableID(e.UserID))
	}
	if e.CredentialLabel != "" {
		fmt.Fprintf(&b, " credential=%q", e.CredentialLabel)
	}
	if e.Terminal != "" {
		fmt.Fprintf(&b, " terminal=%q", e.Terminal)
	}
	if e.Reason != kiosk.KindUnknown {
		fmt.Fprintf(&b, " reason=%s", e.Reason)
	}
	if e.Cause != kiosk.EndUnknown {
		fmt.Fprintf(&b, " cause=%s", e.Cause)
	}
	return b.String()
}

// encode writes fields in the native protocol: KEY=value lines, or for a
// value holding a newline, KEY, a newline, its length as 64-bit little
// endian, the value and a newline.
func encode(fields [][2]string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		if strings.ContainsRune(f[1], '\n') {
			b.WriteString(f[0])
			b.WriteByte('\n')
			binary.Write(&b, binary.LittleEndian, uint64(len(f[1])))
			b.WriteString(f[1])
			b.WriteByte('\n')
			continue
		}
		b.WriteString(f[0])
		b.WriteByte('=')
		b.WriteString(f[1])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Send writes one entry to the journal. A datagram too large for the
// socket goes the way journald takes large entries: in a sealed memfd
// passed over the socket.
func (j *Journal) Send(e store.AuditEvent) error {
	fields := append([][2]string{{"SYSLOG_IDENTIFIER", j.identifier}}, Fields(e)...)
	msg := encode(fields)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn == nil {
		if err := j.dial(); err != nil {
			return err
		}
	}
	_, err := j.conn.Write(msg)
	if errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.ENOBUFS) {
		return j.sendFD(msg)
	}
	if err != nil {
		// journald restarted: its socket is new.
		j.conn.Close()
		if derr := j.dial(); derr != nil {
			j.conn = nil
			return err
		}
		_, err = j.conn.Write(msg)
	}
	return err
}

func (j *Journal) sendFD(msg []byte) error {
	fd, err := unix.MemfdCreate("passkiosk-journal", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("journal: entry of %d bytes: %w", len(msg), err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	defer f.Close()
	if _, err := f.Write(msg); err != nil {
		return err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return err
	}
	// The socket is connected, which the net package's WriteMsgUnix
	// refuses for datagrams: send the descriptor with sendmsg directly.
	rc, err := j.conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Write(func(s uintptr) bool {
		serr = unix.Sendmsg(int(s), nil, unix.UnixRights(fd), nil, 0)
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	return serr
}
