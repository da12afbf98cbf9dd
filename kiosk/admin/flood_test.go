package admin_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
)

// holdEnv makes the test binary, started again as another user, a client
// that opens connections to the socket and never sends a request.
const holdEnv = "PASSKIOSK_ADMIN_HOLD"

// holdConnections opens n connections to sock and says nothing on any.
// After a moment it reports on stdout how many are still open and how
// many the server hung up on (with the last answer it gave), then keeps
// the open ones until stdin closes.
func holdConnections(spec string) {
	sock, nStr, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(nStr)
	var (
		conns        []net.Conn
		open, closed atomic.Int64
		last         atomic.Value
		wg           sync.WaitGroup
	)
	last.Store("")
	for range n {
		c, err := net.Dial("unix", sock)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			continue
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			b, err := io.ReadAll(bufio.NewReader(c))
			if err == nil || len(b) > 0 {
				closed.Add(1)
				if len(b) > 0 {
					last.Store(strings.TrimSpace(string(b)))
				}
				return
			}
			open.Add(1)
		}()
	}
	wg.Wait()
	fmt.Printf("open %d closed %d\n%s\n", open.Load(), closed.Load(), last.Load())
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// holder is a running holdConnections process.
type holder struct {
	open, closed int
	answer       string
	stdin        io.Closer
}

// hold starts the test binary as cred holding n idle connections.
func hold(t *testing.T, sock string, n int, cred *syscall.Credential) *holder {
	t.Helper()
	// The test binary sits in a private build folder: copy it where the
	// other user can run it.
	dir, err := os.MkdirTemp("", "passkiosk-hold-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hold")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), holdEnv+"="+sock+","+strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	r := bufio.NewReader(stdout)
	h := &holder{stdin: stdin}
	line, err := r.ReadString('\n')
	if _, serr := fmt.Sscanf(line, "open %d closed %d", &h.open, &h.closed); err != nil || serr != nil {
		t.Fatalf("holder said %q: %v %v", line, err, serr)
	}
	h.answer, _ = r.ReadString('\n')
	return h
}

// Hundreds of idle connections, from a caller the peer check refuses and
// from an administrator's runaway script, leave the socket answering:
// refused callers are hung up on at once, an administrator holds only
// their share of the slots, and root and the other administrators are
// served while those connections stay open.
func TestIdleConnectionsDoNotLockOutAdministrators(t *testing.T) {
	needRoot(t)
	name, gid := existingGroup(t)
	a := newAppliance(t, func(o *admin.Options) { o.SocketMode = 0o666; o.AdminGroup = name })
	const flood = 300

	stranger := hold(t, a.sock, flood, &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}})
	if stranger.open != 0 || stranger.closed != flood || !strings.Contains(stranger.answer, "may not administer this appliance") {
		t.Fatalf("refused caller: %d of %d connections still open, %d hung up on; answer %q", stranger.open, flood, stranger.closed, stranger.answer)
	}

	member := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{gid}}
	runaway := hold(t, a.sock, flood, member)
	// The default 16 slots: a quarter for each uid.
	if runaway.open != 4 || runaway.closed != flood-4 || !strings.Contains(runaway.answer, "busy with other admin requests") {
		t.Fatalf("administrator's idle connections: %d open, %d hung up on; answer %q", runaway.open, runaway.closed, runaway.answer)
	}

	// While those four are held, root is served at once…
	start := time.Now()
	a.ok("status")
	a.ok("users", "add", "carol")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("root's commands took %v behind the idle connections", d)
	}
	// …so is another administrator…
	if r := a.run(&syscall.Credential{Uid: nobody - 1, Gid: gid, Groups: []uint32{}}, "status"); r.code != 0 {
		t.Fatalf("another administrator: %s", r)
	}
	// …and the runaway one is told the appliance is busy, not that it
	// cannot be reached.
	r := a.run(member, "status")
	if r.code != admin.ExitFailed || !strings.Contains(r.err, "busy") || strings.Contains(r.err, "cannot reach") {
		t.Fatalf("over its share: %s", r)
	}
	// Once they close, their slots come back.
	runaway.stdin.Close()
	for guard := time.Now().Add(10 * time.Second); a.run(member, "status").code != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(guard) {
			t.Fatalf("the runaway administrator's slots never came back: %s", a.run(member, "status"))
		}
	}
}

// A listen queue that stays full makes connecting fail with EAGAIN: the
// appliance is there but not keeping up. The client tries for a moment,
// then says it is busy, not that it cannot be reached.
func TestClientSaysBusyWhenTheListenQueueIsFull(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	// A queue of one that nothing accepts from.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	full := false
	for range 16 {
		c, err := net.Dial("unix", sock)
		if errors.Is(err, syscall.EAGAIN) {
			full = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if !full {
		t.Skip("the listen queue never filled")
	}
	c := &admin.Client{Socket: sock, Timeout: 20 * time.Second}
	err = c.Call(t.Context(), admin.CmdStatus, nil, nil)
	var we *admin.Error
	var unr *admin.Unreachable
	if !errors.As(err, &we) || we.Kind != kiosk.KindDeviceBusy.String() || !strings.Contains(we.Message, "busy") || errors.As(err, &unr) {
		t.Fatalf("call with the listen queue full: %v", err)
	}
}
