package session_test

import (
	"passkiosk/kiosk"

	"bufio"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk/session"
)

// A session program reaches the compositor's socket, although it lives in
// a folder of root's (mode 0700, like /run/user/0 under cage): a Unix
// listener stands in for the compositor, and a small Python client that
// connects to $WAYLAND_DISPLAY and says hello for a Wayland program.
func TestSessionReachesTheCompositorSocket(t *testing.T) {
	// Debian's own python3 (make deps installs it): bubblewrap shows the
	// sandbox only /usr and the system folders.
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the stand-in Wayland client needs %s: %v", python, err)
	}
	for _, sb := range []session.Sandbox{session.SandboxBubblewrap, session.SandboxNone} {
		t.Run(sb.String(), func(t *testing.T) {
			top := t.TempDir()
			os.Chmod(filepath.Dir(top), 0o711) // the test's own folder: passable, like /run/user
			runtime := filepath.Join(top, "run-user-0")
			if err := os.Mkdir(runtime, 0o700); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(runtime, "wayland-0")
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if err := os.Chmod(sock, 0o700); err != nil { // as cage's, made with UMask=0077
				t.Fatal(err)
			}
			got := make(chan string, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					got <- "accept: " + err.Error()
					return
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				got <- line
			}()

			m, _ := newManager(t, sb, testUID, func(c *session.Config) { c.Wayland, c.DedicatedUID = sock, true })
			if ok, why := m.Wayland(); !ok {
				t.Fatalf("no Wayland for the session: %s", why)
			}
			client := `import os, socket
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["WAYLAND_DISPLAY"])
s.sendall(("hello from " + os.environ["WAYLAND_DISPLAY"] + "\n").encode())
`
			errOut, err := os.CreateTemp(top, "stderr")
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Start(t.Context(), session.Spec{User: "wayland", Program: []string{python, "-c", client}, Stderr: errOut})
			if err != nil {
				t.Fatal(err)
			}
			defer s.End(kiosk.EndLogout)
			want := sock
			if sb == session.SandboxBubblewrap {
				want = session.SandboxWayland
			}
			select {
			case line := <-got:
				if line != "hello from "+want+"\n" {
					t.Fatalf("the compositor got %q, want hello from %s", line, want)
				}
			case <-time.After(30 * time.Second):
				b, _ := os.ReadFile(errOut.Name())
				t.Fatalf("the session program never reached the compositor's socket; it said: %s", b)
			}
			// Granted to the session uid alone, by ACL: owner and others
			// keep what they had.
			for _, p := range []string{sock, runtime} {
				fi, err := os.Stat(p)
				if err != nil || fi.Mode().Perm()&0o707 != 0o700 {
					t.Errorf("%s: mode %v, %v: want the owner's rights only, besides the ACL", p, fi.Mode(), err)
				}
				if n, err := unix.Getxattr(p, "system.posix_acl_access", make([]byte, 256)); err != nil || n <= 28 {
					t.Errorf("%s: no ACL entry for the session uid (%d bytes, %v)", p, n, err)
				}
			}
		})
	}
}

// A shared session account (nobody, or any not promised dedicated) is not
// given the compositor: every other program of that uid could then draw
// over the lock screen. Sessions still start, without WAYLAND_DISPLAY.
func TestSharedSessionAccountGetsNoCompositorSocket(t *testing.T) {
	top := t.TempDir()
	os.Chmod(filepath.Dir(top), 0o711)
	sock := filepath.Join(top, "wayland-0")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before, _ := os.Stat(sock)
	m, _ := newManager(t, session.SandboxNone, nobodyUID, func(c *session.Config) { c.Wayland = sock })
	if ok, why := m.Wayland(); ok || why == "" {
		t.Fatalf("Wayland shared with a shared account: %v %q", ok, why)
	}
	after, _ := os.Stat(sock)
	if before.Mode() != after.Mode() {
		t.Fatalf("socket mode changed from %v to %v", before.Mode(), after.Mode())
	}
	if n, err := unix.Getxattr(sock, "system.posix_acl_access", make([]byte, 256)); err == nil {
		t.Fatalf("an ACL of %d bytes was set on the socket", n)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Start(t.Context(), session.Spec{User: "shared", Program: []string{"/bin/sh", "-c", `echo "wayland=[$WAYLAND_DISPLAY]"`}, Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer s.End(kiosk.EndLogout)
	line, _ := bufio.NewReader(r).ReadString('\n')
	if line != "wayland=[]\n" {
		t.Fatalf("the session saw %q", line)
	}
}

// A compositor that restarts makes a new socket without the session
// uid's grant; the next session is granted it again at its start.
func TestSessionReachesACompositorThatRestarted(t *testing.T) {
	const python = "/usr/bin/python3"
	top := t.TempDir()
	os.Chmod(filepath.Dir(top), 0o711)
	runtime := filepath.Join(top, "run-user-0")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(runtime, "wayland-0")
	compositor := func() (net.Listener, chan string) {
		os.Remove(sock)
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(sock, 0o700); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- "accept: " + err.Error()
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			got <- line
		}()
		return l, got
	}
	l, _ := compositor()
	m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) { c.Wayland, c.DedicatedUID = sock, true })
	l.Close() // cage restarts: a new socket, made without the grant
	l, got := compositor()
	defer l.Close()
	client := `import os, socket
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["WAYLAND_DISPLAY"])
s.sendall(b"hello\n")
`
	s, err := m.Start(t.Context(), session.Spec{User: "wayland", Program: []string{python, "-c", client}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.End(kiosk.EndLogout)
	select {
	case line := <-got:
		if line != "hello\n" {
			t.Fatalf("the compositor got %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the session program never reached the new socket")
	}
}

// The socket's folder belongs to the compositor's account, which could put
// a link where the socket was: the root daemon must not grant the
// session account whatever the link names.
func TestALinkInPlaceOfTheCompositorSocketIsNotGranted(t *testing.T) {
	top := t.TempDir()
	os.Chmod(filepath.Dir(top), 0o711)
	secret := filepath.Join(top, "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(top, "wayland-0")
	if err := os.Symlink(secret, sock); err != nil {
		t.Fatal(err)
	}
	m, _ := newManager(t, session.SandboxNone, testUID, func(c *session.Config) { c.Wayland, c.DedicatedUID = sock, true })
	if ok, why := m.Wayland(); ok || why == "" {
		t.Fatalf("a link was taken for the compositor's socket: %v %q", ok, why)
	}
	if n, err := unix.Getxattr(secret, "system.posix_acl_access", make([]byte, 256)); err == nil && n > 0 {
		t.Fatal("the file the link names was given an ACL")
	}
	// A socket of another account is refused as well.
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chown(sock, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	m, _ = newManager(t, session.SandboxNone, testUID, func(c *session.Config) { c.Wayland, c.DedicatedUID = sock, true })
	if ok, why := m.Wayland(); ok || why == "" {
		t.Fatalf("a socket of uid 4242 was taken for the compositor's: %v %q", ok, why)
	}
}
