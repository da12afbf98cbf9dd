package uilink

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
)

// recorder is the engine's side in these tests: it keeps every command.
type recorder struct {
	mu   sync.Mutex
	cmds []string
	pins [][]byte // the slices EnterPIN was given, as given
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.cmds = append(r.cmds, s)
	r.mu.Unlock()
}
func (r *recorder) ChooseUser(id kiosk.UserID)          { r.add("ChooseUser " + string(id)) }
func (r *recorder) TypeUserName(n string)               { r.add("TypeUserName " + n) }
func (r *recorder) UseKey()                             { r.add("UseKey") }
func (r *recorder) ChooseAccount(i int)                 { r.add(fmt.Sprint("ChooseAccount ", i)) }
func (r *recorder) Cancel()                             { r.add("Cancel") }
func (r *recorder) StartEnrollment(c string)            { r.add("StartEnrollment " + c) }
func (r *recorder) ChooseAttachment(a kiosk.Attachment) { r.add("ChooseAttachment " + a.String()) }
func (r *recorder) AddBackup()                          { r.add("AddBackup") }
func (r *recorder) SignOut()                            { r.add("SignOut") }
func (r *recorder) StillHere()                          { r.add("StillHere") }
func (r *recorder) RelaunchProgram()                    { r.add("RelaunchProgram") }
func (r *recorder) Activity()                           { r.add("Activity") }
func (r *recorder) EnterPIN(pin []byte) {
	r.mu.Lock()
	r.pins = append(r.pins, pin)
	r.mu.Unlock()
	r.add("EnterPIN")
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

// logBuffer collects log lines for checks.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// socketDir is a folder other accounts can reach (t.TempDir is 0700 in a
// 0700 parent on some systems).
func socketDir(t *testing.T) string {
	d, err := os.MkdirTemp("/tmp", "uilink-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type daemon struct {
	srv  *Server
	cmds *recorder
	log  *logBuffer
}

func startDaemon(t *testing.T, sock string, uid, gid int) *daemon {
	t.Helper()
	d := &daemon{cmds: &recorder{}, log: &logBuffer{}}
	var err error
	d.srv, err = Listen(Options{Socket: sock, UID: uid, GID: gid, Commands: d.cmds,
		Log: slog.New(slog.NewTextHandler(d.log, nil)), IOTimeout: 2 * time.Second, Keepalive: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go d.srv.Serve(ctx)
	t.Cleanup(cancel)
	t.Cleanup(d.srv.Close)
	return d
}

// window is a Client running in the background, with what it was shown.
type window struct {
	c      *Client
	mu     sync.Mutex
	views  []kiosk.View
	waits  []string
	clears int
	cancel context.CancelFunc
	done   chan struct{}
}

func startWindow(t *testing.T, dial func(context.Context) (net.Conn, error)) *window {
	t.Helper()
	w := &window{done: make(chan struct{})}
	w.c = NewClient(ClientOptions{Dial: dial,
		Show:    func(v kiosk.View) { w.mu.Lock(); w.views = append(w.views, v); w.mu.Unlock() },
		Waiting: func(why string) { w.mu.Lock(); w.waits = append(w.waits, why); w.mu.Unlock() },
		ClearClipboard: func(context.Context) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.clears++
			return nil
		},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		IOTimeout: 2 * time.Second, Keepalive: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.c.Run(ctx); close(w.done) }()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

func (w *window) last() (kiosk.View, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.views) == 0 {
		return kiosk.View{}, 0
	}
	return w.views[len(w.views)-1], len(w.views)
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func showing(w *window, terminal string) func() bool {
	return func() bool { v, _ := w.last(); return v.Terminal == terminal }
}

// The window gets the current View at connect and every change after;
// its commands reach the engine's side in order.
func TestWindowSeesViewsAndSendsCommands(t *testing.T) {
	sock := filepath.Join(socketDir(t), "ui.sock")
	d := startDaemon(t, sock, os.Getuid(), -1)
	d.srv.Publish(kiosk.View{Terminal: "first"})
	w := startWindow(t, DialSocket(sock))
	eventually(t, "the first View", showing(w, "first"))
	d.srv.Publish(kiosk.View{Terminal: "second", State: kiosk.StateInSession})
	eventually(t, "the second View", showing(w, "second"))

	w.c.ChooseUser("alice")
	w.c.TypeUserName("bob")
	w.c.ChooseAccount(2)
	w.c.ChooseAttachment(kiosk.AttachPlatform)
	w.c.StartEnrollment("CODE-1")
	for _, f := range []func(){w.c.UseKey, w.c.Cancel, w.c.AddBackup, w.c.SignOut, w.c.StillHere, w.c.RelaunchProgram, w.c.Activity} {
		f()
	}
	want := []string{"ChooseUser alice", "TypeUserName bob", "ChooseAccount 2", "ChooseAttachment platform", "StartEnrollment CODE-1",
		"UseKey", "Cancel", "AddBackup", "SignOut", "StillHere", "RelaunchProgram", "Activity"}
	eventually(t, "every command", func() bool { return len(d.cmds.list()) == len(want) })
	if got := strings.Join(d.cmds.list(), "|"); got != strings.Join(want, "|") {
		t.Fatalf("commands %s\nwant     %s", got, strings.Join(want, "|"))
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode without a group: %v %v", fi.Mode(), err)
	}
}

// The PIN is zeroed where the window was given it, in the frame it
// built, in the daemon's read buffer; the engine's side gets a slice of
// its own with the PIN.
func TestPINIsWipedOnBothSides(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	hook := func(side string, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		if len(b) == 0 {
			return
		}
		if !bytes.Equal(b, make([]byte, len(b))) {
			t.Errorf("%s: buffer not zeroed: %x", side, b)
		}
		seen[side]++
	}
	testHookWiped.Store(&hook)
	t.Cleanup(func() { testHookWiped.Store(nil) })
	sock := filepath.Join(socketDir(t), "ui.sock")
	d := startDaemon(t, sock, os.Getuid(), -1)
	d.srv.Publish(kiosk.View{Terminal: "pin"})
	w := startWindow(t, DialSocket(sock))
	eventually(t, "connected", showing(w, "pin"))

	pin := []byte("135790")
	w.c.EnterPIN(pin)
	if !bytes.Equal(pin, make([]byte, 6)) {
		t.Fatalf("the window's caller still holds %q", pin)
	}
	eventually(t, "the PIN", func() bool { return len(d.cmds.list()) == 1 })
	d.cmds.mu.Lock()
	got := string(d.cmds.pins[0])
	d.cmds.mu.Unlock()
	if got != "135790" {
		t.Fatalf("engine got %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, side := range []string{"window", "window frame", "daemon"} {
		if seen[side] == 0 {
			t.Errorf("no zeroed buffer seen on the %s side", side)
		}
	}
}

// A View published while the window does not read never blocks the
// engine; the window then sees the newest View, not every one.
func TestSlowWindowGetsOnlyTheNewestView(t *testing.T) {
	srv := NewServer(Options{Commands: &recorder{}, IOTimeout: 2 * time.Second, Keepalive: time.Second})
	a, b := net.Pipe() // unbuffered: a writer blocks until the window reads
	srv.Attach(a, "pipe")
	// The window's hello, then stop reading for a while.
	if err := writeFrame(b, time.Second, msgHello, encodeHello(Hello{})); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := readFrame(b, MaxCommandFrame, time.Now().Add(time.Second)); err != nil || typ != msgHello {
		t.Fatalf("hello: %d %v", typ, err)
	}
	start := time.Now()
	for i := 0; i < 1000; i++ {
		srv.Publish(kiosk.View{Terminal: fmt.Sprint("v", i)})
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("1000 Publish calls to a window that does not read took %v", d)
	}
	var got []string
	for {
		typ, body, err := readFrame(b, MaxViewFrame, time.Now().Add(500*time.Millisecond))
		if err != nil {
			break
		}
		if typ == msgView {
			v, _ := decodeView(body)
			got = append(got, v.Terminal)
		}
	}
	if len(got) == 0 || got[len(got)-1] != "v999" || len(got) > 3 {
		t.Fatalf("window read %v; want at most a few, ending with v999", got)
	}
	srv.Close()
}

// A connection that sends a malformed or oversized frame is closed with
// a log line; the daemon goes on serving, and the real window, replaced
// for the moment, comes back and sees the current View.
func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	sock := filepath.Join(socketDir(t), "ui.sock")
	d := startDaemon(t, sock, os.Getuid(), -1)
	d.srv.Publish(kiosk.View{Terminal: "before"})
	w := startWindow(t, DialSocket(sock))
	eventually(t, "the window", showing(w, "before"))

	for name, frame := range map[string][]byte{
		"garbage":        []byte("GET / HTTP/1.1\r\n\r\n"),
		"oversized":      binary.BigEndian.AppendUint32(nil, 1<<30),
		"unknown type":   {0, 0, 0, 1, 99},
		"bad command":    {0, 0, 0, 2, msgCommand, 200},
		"view to daemon": append([]byte{0, 0, 0, 3, msgView}, "{}"...),
	} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		if name != "garbage" {
			writeFrame(c, time.Second, msgHello, encodeHello(Hello{}))
			readFrame(c, MaxCommandFrame, time.Now().Add(time.Second))
		}
		c.Write(frame)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var err2 error
		for err2 == nil {
			_, _, err2 = decodeFrame(c, MaxViewFrame)
		}
		var ne net.Error
		if errors.As(err2, &ne) && ne.Timeout() {
			t.Errorf("%s: the daemon kept the connection open", name)
		}
		c.Close()
	}
	eventually(t, "a log line for each", func() bool { return strings.Count(d.log.String(), "broke the protocol") == 5 })
	d.srv.Publish(kiosk.View{Terminal: "after"})
	eventually(t, "the window back with the current View", showing(w, "after"))
	w.c.Cancel()
	eventually(t, "the window's command", func() bool { return len(d.cmds.list()) == 1 })
}

// When the daemon goes away the window says it waits, dials again, and
// on the new daemon shows its current View; a new window replaces the
// old one.
func TestWindowReconnectsToARestartedDaemon(t *testing.T) {
	dir := socketDir(t)
	sock := filepath.Join(dir, "ui.sock")
	d := startDaemon(t, sock, os.Getuid(), -1)
	d.srv.Publish(kiosk.View{Terminal: "one"})
	w := startWindow(t, DialSocket(sock))
	eventually(t, "the first daemon's View", showing(w, "one"))
	d.srv.Close()
	eventually(t, "the waiting screen", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.waits) > 0 && w.waits[len(w.waits)-1] == "waiting for the appliance"
	})
	time.Sleep(300 * time.Millisecond) // a few failed dials
	d2 := startDaemon(t, sock, os.Getuid(), -1)
	d2.srv.Publish(kiosk.View{Terminal: "two", State: kiosk.StateInSession})
	eventually(t, "the second daemon's View", showing(w, "two"))

	w2 := startWindow(t, DialSocket(sock))
	eventually(t, "the new window's View", showing(w2, "two"))
	eventually(t, "the new window replaced the old", func() bool { return strings.Contains(d2.log.String(), "replaces") })
}

// The clipboard request reaches the window and its answer the wipe;
// without a window there is nothing to clear.
func TestClearClipboardAsksTheWindow(t *testing.T) {
	sock := filepath.Join(socketDir(t), "ui.sock")
	d := startDaemon(t, sock, os.Getuid(), -1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := d.srv.ClearClipboard(ctx); err != nil {
		t.Fatalf("without a window: %v", err)
	}
	d.srv.Publish(kiosk.View{Terminal: "x"})
	w := startWindow(t, DialSocket(sock))
	eventually(t, "the window", showing(w, "x"))
	if err := d.srv.ClearClipboard(ctx); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	n := w.clears
	w.mu.Unlock()
	if n != 1 {
		t.Fatalf("window cleared %d times", n)
	}
}

// Only the window's account and root are served; anyone else is hung up
// on before a byte is read. The other account is nobody, connecting with
// python3 (this test runs as root).
func TestPeerOfAnotherAccountIsHungUpOnUnread(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to connect as two accounts")
	}
	// The system python: a per-user one (pyenv under /root) is out of
	// nobody's reach.
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	sock := filepath.Join(socketDir(t), "ui.sock")
	const nobody = 65534
	// The socket's group lets nobody connect at all; the uid check must
	// then refuse it.
	d := startDaemon(t, sock, 4242, nobody)
	d.srv.Publish(kiosk.View{Terminal: "secret lock screen"})
	script := `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
hello = b"passkiosk-ui" + struct.pack(">H", 1)
s.settimeout(5)
try:
    s.sendall(struct.pack(">I", 1 + len(hello)) + bytes([1]) + hello)
    s.sendall(struct.pack(">I", 2) + bytes([3, 6]))
    data = s.recv(4096)
except (ConnectionResetError, BrokenPipeError):
    # The daemon closed with our bytes unread (or before we wrote).
    data = b""
print("got", len(data))
`
	cmd := exec.Command(py, "-c", script, sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python as nobody: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "got 0" {
		t.Fatalf("nobody was answered: %s", out)
	}
	if got := d.cmds.list(); len(got) != 0 {
		t.Fatalf("the daemon read nobody's commands: %v", got)
	}
	if !strings.Contains(d.log.String(), "not the window's account") {
		t.Fatalf("no log line:\n%s", d.log.String())
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != nobody {
		t.Fatalf("socket mode %v group %v", fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid)
	}

	// The window's account itself is served: nobody, once it is that.
	d2 := startDaemon(t, filepath.Join(filepath.Dir(sock), "ui2.sock"), nobody, nobody)
	d2.srv.Publish(kiosk.View{Terminal: "lock"})
	cmd = exec.Command(py, "-c", script, d2.srv.Addr())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err = cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "got 0" {
		t.Fatalf("the window's own account was refused: %v %s\n%s", err, out, d2.log.String())
	}
	eventually(t, "its Cancel", func() bool { return len(d2.cmds.list()) == 1 })
}

// A second daemon on a live socket is refused; a stale socket file is
// replaced; a file that is not a socket is left alone and refused.
func TestListenRefusesALiveSocketAndReplacesAStaleOne(t *testing.T) {
	sock := filepath.Join(socketDir(t), "ui.sock")
	d := startDaemon(t, sock, os.Getuid(), -1)
	if _, err := Listen(Options{Socket: sock, UID: -1, GID: -1, Commands: &recorder{}}); err == nil {
		t.Fatal("a second daemon took a live socket")
	}
	d.srv.Close()
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close() // a socket file nothing answers on, as a crash leaves it
	s2, err := Listen(Options{Socket: sock, UID: -1, GID: -1, Commands: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	os.Remove(sock)
	os.WriteFile(sock, nil, 0o600)
	if _, err := Listen(Options{Socket: sock, UID: -1, GID: -1, Commands: &recorder{}}); err == nil {
		t.Fatal("a file that is not a socket was replaced")
	}
}

// The daemon's hello tells the window the session program's name before
// the first View.
func TestHelloTellsTheProgramName(t *testing.T) {
	sock := filepath.Join(socketDir(t), "ui.sock")
	srv, err := Listen(Options{Socket: sock, UID: os.Getuid(), GID: -1, Commands: &recorder{},
		Hello: func() Hello { return Hello{ProgramName: "Ward charts"} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	defer srv.Close()
	srv.Publish(kiosk.View{Terminal: "x"})
	got := make(chan string, 4)
	c := NewClient(ClientOptions{Dial: DialSocket(sock), OnHello: func(h Hello) { got <- h.ProgramName },
		Show: func(kiosk.View) { got <- "view" }})
	go c.Run(ctx)
	if a, b := <-got, <-got; a != "Ward charts" || b != "view" {
		t.Fatalf("window heard %q then %q", a, b)
	}
	if _, _, err := decodeHello(append(encodeHello(Hello{}), 0, 'x')); err == nil {
		t.Fatal("a hello with a NUL in the name was accepted")
	}
}
