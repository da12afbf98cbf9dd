// Package syslog forwards the audit log to a remote collector (a SIEM) as
// RFC 5424 messages, over TCP with octet counting (RFC 6587 §3.4.1) or
// over TLS (RFC 5425).
//
// The queue is the audit log itself: a cursor file names the last entry
// the collector was sent, so entries written while the collector is down,
// or while the appliance was off, are sent when it comes back, in order,
// as far back as the log keeps them (retention bounds the queue). Every
// message carries the entry's sequence number and chain hash in its
// structured data ([passkiosk@32473 seq="…" hash="…"]), so a collector can
// tell a gap or a repeat.
//
// TCP says nothing of what the other end took in: when a connection
// breaks, the entries sent on it in its last seconds may be gone, even
// though the writes succeeded (a collector stopped at once drops what is
// still in its socket buffer). So an entry counts as arrived only once
// the connection stayed open for settle (2 s) after it was sent, and the
// forwarder sends the others again on the next connection: delivery is
// at least once, and a repeat carries the sequence number of the entry it
// repeats, so the collector can drop it. Repeats are bounded by what is
// sent in settle.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"passkiosk/kiosk/atomicfile"
	"passkiosk/store"
	"passkiosk/store/journald"
)

// Source reads audit entries from seq from on, at most n (store.DB.Events).
type Source func(from uint64, n int) ([]store.AuditEvent, error)

// Forwarder sends audit entries to one collector.
type Forwarder struct {
	// Addr is the collector's host:port.
	Addr string
	// TLS, when not nil, wraps the connection (RFC 5425).
	TLS *tls.Config
	// Hostname and App name the sender in each message's header.
	Hostname, App string
	// Cursor is the file that keeps the sequence number of the last
	// entry sent; it survives restarts.
	Cursor string
	Source Source
	// Wake, when set, returns a channel closed when new entries may have
	// been written (store.DB.Written); the forwarder then looks for them
	// at once, and only every Poll otherwise.
	Wake func() <-chan struct{}
	// Poll is how often new entries are looked for; default 500 ms, and
	// 30 s with Wake.
	Poll time.Duration
	Log  *slog.Logger
}

// batch bounds the entries read and sent at once.
const batch = 256

// Run sends entries until ctx ends, reconnecting with a bounded backoff.
func (f *Forwarder) Run(ctx context.Context) {
	poll := f.Poll
	switch {
	case poll > 0:
	case f.Wake != nil:
		poll = 30 * time.Second
	default:
		poll = 500 * time.Millisecond
	}
	backoff := time.Second
	for ctx.Err() == nil {
		conn, err := f.dial(ctx)
		if err != nil {
			f.Log.Warn("syslog collector unreachable; audit entries wait in the audit log", "addr", f.Addr, "err", err, "retry", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		began := time.Now()
		err = f.serve(ctx, conn, poll)
		conn.Close()
		if time.Since(began) > 30*time.Second {
			backoff = time.Second // it worked for a while: a fresh outage
		}
		if err != nil && ctx.Err() == nil {
			f.Log.Warn("syslog connection lost; unconfirmed entries will be sent again", "addr", f.Addr, "err", err, "retry", backoff)
			// A failure that comes back at once (the audit log unreadable,
			// a collector that hangs up on every connection) must not
			// spin: wait as after a failed dial.
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

func (f *Forwarder) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if f.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: f.TLS}
		return td.DialContext(ctx, "tcp", f.Addr)
	}
	return d.DialContext(ctx, "tcp", f.Addr)
}

// settle is how long a connection must stay open after a write before
// what it carried counts as taken in: a collector stopped at once may
// drop what sat in its socket buffer unread.
const settle = 2 * time.Second

// sentBatch is the newest entry of a write and when it was written.
type sentBatch struct {
	seq uint64
	at  time.Time
}

// serve sends entries on conn until it breaks or ctx ends. The cursor
// file keeps the newest entry known to have arrived: one sent at least
// settle ago on a connection still open now.
func (f *Forwarder) serve(ctx context.Context, conn net.Conn, poll time.Duration) error {
	confirmed, err := readCursor(f.Cursor)
	if err != nil {
		return err
	}
	sent := confirmed
	var pending []sentBatch
	for {
		if err := alive(conn); err != nil {
			return err
		}
		n := 0
		for n < len(pending) && time.Since(pending[n].at) >= settle {
			n++
		}
		if n > 0 {
			if err := writeCursor(f.Cursor, pending[n-1].seq); err != nil {
				return err
			}
			pending = pending[n:]
		}
		var wake <-chan struct{}
		if f.Wake != nil {
			wake = f.Wake() // before reading, so no write goes unnoticed
		}
		evs, err := f.Source(sent+1, batch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			wait := poll
			if len(pending) > 0 {
				wait = min(wait, settle-time.Since(pending[0].at))
			}
			if !sleepOrWake(ctx, wait, wake) {
				return nil
			}
			continue
		}
		var msg strings.Builder
		for _, e := range evs {
			m := f.Message(e)
			fmt.Fprintf(&msg, "%d %s", len(m), m)
		}
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, msg.String()); err != nil {
			return err
		}
		sent = evs[len(evs)-1].Seq
		pending = append(pending, sentBatch{sent, time.Now()})
	}
}

// alive reports a connection the collector has closed or reset: a read
// that would block means it is still open (the collector never writes).
func alive(conn net.Conn) error {
	conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := conn.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err == nil {
		return errors.New("the collector sent data")
	}
	return err
}

// Message is e as an RFC 5424 message: PRI from the entry's severity
// (facility auth, 4), the entry's time, host, app, no process ID, the
// event as MSGID, the structured data and a readable line.
func (f *Forwarder) Message(e store.AuditEvent) string {
	pri := 4*8 + journald.Priority(e)
	host, app := nilValue(f.Hostname), nilValue(f.App)
	sd := []string{"seq=" + quote(strconv.FormatUint(e.Seq, 10)), "hash=" + quote(fmt.Sprintf("%x", e.Hash)),
		"event=" + quote(e.Type.String())}
	fields := journald.Fields(e)
	sort.Slice(fields, func(i, j int) bool { return fields[i][0] < fields[j][0] })
	for _, kv := range fields {
		name, ok := strings.CutPrefix(kv[0], "PASSKIOSK_")
		if !ok || name == "SEQ" || name == "HASH" || name == "EVENT" {
			continue
		}
		sd = append(sd, sdName(name)+"="+quote(kv[1]))
	}
	return fmt.Sprintf("<%d>1 %s %s %s - %s [passkiosk@32473 %s] %s",
		pri, e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), host, app, sdName(e.Type.String()),
		strings.Join(sd, " "), strings.ReplaceAll(journald.Message(e), "\n", " "))
}

// nilValue is RFC 5424's "-" for an empty header field, and a field cut
// to printable US-ASCII without spaces.
func nilValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s
}

// sdName makes a PARAM-NAME or MSGID: printable US-ASCII, no '=', ' ',
// ']' or '"', at most 32 characters.
func sdName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '=' || r == ']' || r == '"' {
			return '_'
		}
		return r
	}, strings.ToLower(s))
	if len(s) > 32 {
		s = s[:32]
	}
	return s
}

// quote is a PARAM-VALUE: '"', '\' and ']' escaped (RFC 5424 §6.3.3).
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	return `"` + r.Replace(s) + `"`
}

func sleep(ctx context.Context, d time.Duration) bool { return sleepOrWake(ctx, d, nil) }

// sleepOrWake waits d, or until wake is closed; false when ctx ended.
func sleepOrWake(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(max(d, time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

func readCursor(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("syslog cursor %s: %w", path, err)
	}
	return n, nil
}

// writeCursor replaces the cursor file atomically.
func writeCursor(path string, seq uint64) error {
	return atomicfile.Write(path, []byte(strconv.FormatUint(seq, 10)+"\n"), 0o600)
}
