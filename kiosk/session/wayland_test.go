package session_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

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

			m, _ := newManager(t, sb, testUID, func(c *session.Config) { c.Wayland = sock })
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
			defer s.End(session.CauseLogout)
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
			if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
				t.Errorf("socket mode %v, %v: want 0660 for the session's group", fi.Mode(), err)
			}
			if fi, err := os.Stat(runtime); err != nil || fi.Mode().Perm() != 0o701 {
				t.Errorf("runtime folder mode %v, %v: want 0701 (passable, not listable)", fi.Mode(), err)
			}
		})
	}
}
