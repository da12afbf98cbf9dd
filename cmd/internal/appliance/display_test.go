package appliance

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
)

// The root daemon grants the session account ACLs on the compositor's
// socket, so it uses only a real socket (no link to one) of the window's
// account.
func TestCompositorSocketMustBeTheWindowAccountsSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "wayland-0")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(sock, link)
	me := os.Getuid()
	for _, tc := range []struct {
		path string
		uid  int
		ok   bool
	}{
		{sock, me, true},
		{sock, me + 1, false},
		{sock, -1, false},
		{file, me, false},
		{link, me, false},
		{filepath.Join(dir, "absent"), me, false},
	} {
		if err := checkCompositorSocket(tc.path, tc.uid); (err == nil) != tc.ok {
			t.Errorf("%s as uid %d: %v", filepath.Base(tc.path), tc.uid, err)
		}
	}
}

// X11 session programs get DISPLAY (and the cookie) only when the
// configuration allows them; the window's account is looked up.
func TestDisplayComesFromTheConfiguration(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.UI.User = "nobody"
	cfg.Display.WaylandSocket = ""
	t.Setenv("DISPLAY", ":7")
	d := displayOf(&cfg, log)
	if d.x11 || len(d.env(nilUser)) != 0 || d.uiUID != 65534 {
		t.Fatalf("without display.x11: %+v", d)
	}
	cfg.Display.X11, cfg.Display.X11Display, cfg.Display.XAuthority = true, ":1", "/run/passkiosk-ui/Xauthority"
	d = displayOf(&cfg, log)
	if got := strings.Join(d.env(nilUser), " "); got != "DISPLAY=:1 XAUTHORITY=/run/passkiosk-ui/Xauthority" {
		t.Fatalf("with display.x11: %q", got)
	}
	// A socket that is not there is waited for, a bounded time.
	start := time.Now()
	waitForSocket(filepath.Join(t.TempDir(), "never"), 300*time.Millisecond, log)
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v for a socket that never came", d)
	}
}

var nilUser = kiosk.User{}

// The X server is asked for idle time only when X11 session programs are
// allowed: under cage the query alone starts Xwayland.
func TestX11IdleOnlyWhenX11ProgramsAreAllowed(t *testing.T) {
	needRoot(t)
	for _, x11 := range []bool{false, true} {
		cfg := testConfig(t.TempDir())
		cfg.Display.X11, cfg.Display.X11Display = x11, ":99"
		a, err := Start(context.Background(), cfg, Options{Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range a.idle {
			names = append(names, s.name)
		}
		a.Close()
		want := "input devices"
		if x11 {
			want = "input devices, X server"
		}
		if got := strings.Join(names, ", "); got != want {
			t.Errorf("display.x11 = %v: idle from %q, want %q", x11, got, want)
		}
	}
}
