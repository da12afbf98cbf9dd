package syslog_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// Over TLS (RFC 5425) the same octet-counted messages arrive, to a
// collector whose certificate the forwarder's CA pool holds; one it does
// not hold is refused, and the entries wait.
func TestEntriesReachATLSCollector(t *testing.T) {
	cert, pool := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 64)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					var n int
					if _, err := fmt.Fscanf(r, "%d ", &n); err != nil {
						return
					}
					b := make([]byte, n)
					if _, err := io.ReadFull(r, b); err != nil {
						return
					}
					got <- string(b)
				}
			}()
		}
	}()
	db, _ := storetest.Open(t, nil)
	head := appendEntries(t, db, 5)
	run := func(roots *x509.CertPool) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		f := &syslog.Forwarder{Addr: l.Addr().String(), TLS: &tls.Config{ServerName: "collector.test", RootCAs: roots},
			Cursor: filepath.Join(t.TempDir(), "cursor"), Source: db.Events, Poll: 20 * time.Millisecond,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		go f.Run(ctx)
		return cancel
	}
	stop := run(x509.NewCertPool()) // a pool without the collector's CA
	select {
	case m := <-got:
		t.Fatalf("sent to a collector it cannot trust: %q", m)
	case <-time.After(500 * time.Millisecond):
	}
	stop()
	stop = run(pool)
	defer stop()
	for s := uint64(1); s <= head; s++ {
		select {
		case m := <-got:
			if !strings.Contains(m, fmt.Sprintf(`seq="%d"`, s)) {
				t.Fatalf("message %d: %q", s, m)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("entry %d never arrived", s)
		}
	}
}

// selfSigned makes a certificate for collector.test and a pool holding it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector.test"},
		DNSNames: []string{"collector.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// With the store's write signal, an entry is sent when it is written,
// not at the next poll: here the poll is an hour, and an entry written
// after the forwarder has gone idle still arrives.
func TestEntriesAreSentWhenWrittenNotPolled(t *testing.T) {
	c := newCollector(t)
	db, _ := storetest.Open(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	f := &syslog.Forwarder{Addr: "127.0.0.1:" + c.port, Hostname: "bay2", App: "passkiosk",
		Cursor: filepath.Join(t.TempDir(), "syslog.cursor"), Source: db.Events, Wake: db.Written,
		Poll: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < 3; i++ {
		c.waitFor(appendEntries(t, db, 1))
		time.Sleep(2500 * time.Millisecond) // past the settle time: nothing left to confirm, the forwarder idles
	}
}
