package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/uilink"
)

// sessionPassEnv is what session programs inherit from the daemon's own
// environment: the locale and time zone. The display comes from the
// configuration (display.env), not from wherever the daemon was started.
var sessionPassEnv = []string{"LANG", "LC_ALL", "TZ"}

// display is what session programs are given of the screen, from the
// configuration and checked here: the window names nothing.
type display struct {
	x11        bool
	x11Env     []string
	wayland    string // the compositor's socket, checked; "" for none
	waylandWhy string // why none, when one was configured
	uiUID      int    // the window's account, -1 when it does not exist
	uiGID      int
}

// displayOf reads the display settings and checks the compositor's
// socket: a root daemon grants the session account ACLs on it, so it must
// be what it claims, a socket of the window's account.
func displayOf(cfg *config.Config, log *slog.Logger) display {
	d := display{x11: cfg.Display.X11, uiUID: -1, uiGID: -1}
	if u, err := user.Lookup(cfg.UI.User); err == nil {
		d.uiUID, _ = strconv.Atoi(u.Uid)
		d.uiGID, _ = strconv.Atoi(u.Gid)
	} else {
		log.Warn("the window's account does not exist; only root may connect to the window socket", "ui_user", cfg.UI.User, "err", err)
	}
	if d.x11 {
		d.x11Env = []string{"DISPLAY=" + cfg.Display.X11Display}
		if cfg.Display.XAuthority != "" {
			d.x11Env = append(d.x11Env, "XAUTHORITY="+cfg.Display.XAuthority)
		}
	}
	if p := cfg.Display.WaylandSocket; p != "" {
		waitForSocket(p, waylandWait, log)
		if err := checkCompositorSocket(p, d.uiUID); err != nil {
			d.waylandWhy = err.Error()
			log.Warn("no Wayland socket for sessions", "reason", err)
		} else {
			d.wayland = p
		}
	}
	return d
}

// waylandWait bounds how long the daemon waits at start for the
// compositor's socket. The daemon starts before cage (the window's unit
// is ordered after it), and the session account is granted the socket
// once, when sessions are set up (kiosk/session), so a socket that comes
// later is not shared. The window shows "Starting" meanwhile.
const waylandWait = 10 * time.Second

// waitForSocket waits until path exists or max has passed.
func waitForSocket(path string, max time.Duration, log *slog.Logger) {
	if _, err := os.Lstat(path); err == nil {
		return
	}
	log.Info("waiting for the compositor's socket", "path", path, "at_most", max)
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Lstat(path); err == nil {
			return
		}
	}
}

// checkCompositorSocket says whether path is a socket (not a link to one)
// owned by uid.
func checkCompositorSocket(path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s is not a socket", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || uid < 0 || int(st.Uid) != uid {
		return fmt.Errorf("%s is not owned by the window's account (uid %d)", path, uid)
	}
	return nil
}

// env is what a session program is given of the display.
func (d display) env(kiosk.User) []string { return d.x11Env }

// openLink opens the window's socket (not in the demo, which attaches its
// window in process) and hands it the current View.
func (a *Appliance) openLink(ctx context.Context) error {
	opts := uilink.Options{Socket: a.cfg.UI.Socket, UID: a.display.uiUID, GID: a.display.uiGID,
		Commands: a.eng, Log: a.log.With("part", "window link"),
		Hello: func() uilink.Hello { return uilink.Hello{ProgramName: a.ProgramName()} }}
	var link *uilink.Server
	if a.opts.NoWindowSocket {
		link = uilink.NewServer(opts)
	} else {
		var err error
		if link, err = uilink.Listen(opts); err != nil {
			return err
		}
		go link.Serve(ctx)
		a.log.Info("waiting for the window", "socket", a.cfg.UI.Socket, "ui_user", a.cfg.UI.User, "uid", a.display.uiUID)
	}
	a.mu.Lock()
	a.link = link
	v, ok := a.last, a.published
	a.mu.Unlock()
	if ok {
		link.Publish(v)
	}
	return nil
}
