package syslog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
	"passkiosk/store/syslog"
)

// collector is a real rsyslogd listening on 127.0.0.1, writing what it
// receives to a file.
type collector struct {
	t         *testing.T
	dir, port string
	cmd       *exec.Cmd
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	if _, err := exec.LookPath("rsyslogd"); err != nil {
		t.Skip("rsyslogd is not installed (make deps installs Debian's rsyslog)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	c := &collector{t: t, dir: t.TempDir(), port: port}
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imtcp")
template(name="sd" type="string" string="%%structured-data%% %%msg%%\n")
ruleset(name="audit") { action(type="omfile" file=%q template="sd") }
input(type="imtcp" address="127.0.0.1" port=%q ruleset="audit")
`, c.dir, c.out(), port)
	if err := os.WriteFile(filepath.Join(c.dir, "rsyslog.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) out() string { return filepath.Join(c.dir, "received.log") }

func (c *collector) start() {
	c.t.Helper()
	c.cmd = exec.Command("rsyslogd", "-n", "-f", filepath.Join(c.dir, "rsyslog.conf"), "-i", filepath.Join(c.dir, "rsyslogd.pid"))
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	for guard := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", "127.0.0.1:"+c.port); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(guard) {
			c.t.Fatal("rsyslogd does not listen")
		}
	}
}

func (c *collector) stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	c.cmd = nil
}

var seqRE = regexp.MustCompile(`\[passkiosk@32473 seq="(\d+)"`)

// received counts each sequence number the collector wrote down.
func (c *collector) received() map[uint64]int {
	b, _ := os.ReadFile(c.out())
	got := map[uint64]int{}
	for _, m := range seqRE.FindAllSubmatch(b, -1) {
		n, _ := strconv.ParseUint(string(m[1]), 10, 64)
		got[n]++
	}
	return got
}

// waitFor waits (bounded) until the collector holds every entry up to head.
func (c *collector) waitFor(head uint64) map[uint64]int {
	c.t.Helper()
	for guard := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := c.received()
		missing := 0
		for s := uint64(1); s <= head; s++ {
			if got[s] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(guard) {
			c.t.Fatalf("the collector is missing %d of %d entries", missing, head)
		}
	}
}

func appendEntries(t *testing.T, db *store.DB, n int) uint64 {
	t.Helper()
	var seq uint64
	for i := 0; i < n; i++ {
		var err error
		seq, err = db.Append(store.AuditEvent{Type: kiosk.EventSignInFailed, Actor: "engine", Terminal: "Ward 7 - bay 2",
			UserID: []byte("alice"), Reason: kiosk.KindPINInvalid, Detail: map[string]string{"subject": "user alice", "n": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return seq
}

// Every entry reaches a real rsyslog, in order and each with its sequence
// number, across a collector that is stopped while entries keep coming
// and started again, and across a restart of the forwarder itself.
func TestEntriesReachRsyslogAcrossACollectorRestart(t *testing.T) {
	c := newCollector(t)
	db, _ := storetest.Open(t, nil)
	cursor := filepath.Join(t.TempDir(), "syslog.cursor")
	run := func() context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		f := &syslog.Forwarder{Addr: "127.0.0.1:" + c.port, Hostname: "bay2", App: "passkiosk", Cursor: cursor,
			Source: db.Events, Poll: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := run()
	head := appendEntries(t, db, 200)
	c.waitFor(head)
	time.Sleep(3 * time.Second) // long enough for them to count as arrived

	// The collector goes away mid-stream while the terminal keeps
	// auditing, and comes back.
	streamed := make(chan uint64)
	go func() {
		var last uint64
		for i := 0; i < 30; i++ {
			last = appendEntries(t, db, 10)
			time.Sleep(10 * time.Millisecond)
		}
		streamed <- last
	}()
	time.Sleep(100 * time.Millisecond)
	c.stop()
	time.Sleep(200 * time.Millisecond)
	c.start()
	head = <-streamed
	got := c.waitFor(head)
	time.Sleep(3 * time.Second)

	stop() // and the appliance restarts
	head = appendEntries(t, db, 100)
	stop = run()
	defer stop()
	got = c.waitFor(head)

	repeats := 0
	for s := uint64(1); s <= head; s++ {
		repeats += got[s] - 1
	}
	t.Logf("%d entries, every one received; %d sent again after the broken connection", head, repeats)
	if repeats > 300 {
		t.Fatalf("%d repeats: more than the entries sent in the seconds before the connection broke", repeats)
	}
}

// A message is RFC 5424 with the entry's sequence number and chain hash
// in its structured data, values escaped.
func TestMessageIsRFC5424(t *testing.T) {
	f := &syslog.Forwarder{Hostname: "bay 2", App: "passkiosk"}
	e := store.AuditEvent{Seq: 42, Time: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), Type: kiosk.EventFailureSpike,
		Terminal: `Ward "7"]`, Hash: []byte{0xab, 0xcd}}
	m := f.Message(e)
	want := regexp.MustCompile(`^<34>1 2026-12-06T09:00:00\.000000Z bay2 passkiosk - failure-spike \[passkiosk@32473 seq="42" hash="abcd" event="failure-spike".* terminal="Ward \\"7\\"\\]".*\] audit 42 failure-spike`)
	if !want.MatchString(m) {
		t.Fatalf("message %q", m)
	}
}
