package appliance

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"passkiosk/kiosk/config"
)

// X11 session programs get a display only when the configuration allows
// them, and never the daemon's cookie; the window's account is looked up.
func TestDisplayComesFromTheConfiguration(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.UI.User = "nobody"
	cfg.Display.WaylandSocket = ""
	t.Setenv("DISPLAY", ":7")
	d := displayOf(&cfg, log)
	if d.x11 || d.x11Display != "" || d.uiUID != 65534 {
		t.Fatalf("without display.x11: %+v", d)
	}
	cfg.Display.X11, cfg.Display.X11Display, cfg.Display.XAuthority = true, ":1", "/run/passkiosk-ui/Xauthority"
	d = displayOf(&cfg, log)
	if d.x11Display != ":1" || d.x11Auth != "/run/passkiosk-ui/Xauthority" {
		t.Fatalf("with display.x11: %+v", d)
	}
}

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
