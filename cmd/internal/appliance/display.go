package appliance

import (
	"context"
	"log/slog"
	"os"
	"os/user"
	"strconv"

	"passkiosk/kiosk/config"
	"passkiosk/kiosk/session"
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
	x11Display string // for X11 session programs, when x11
	x11Auth    string // the cookie the daemon admits each session's account with
	wayland    string // the compositor's socket; "" for none
	uiUID      int    // the window's account, -1 when it does not exist
	uiGID      int
	// admit lets the daemon into the X display as its owner, the window's
	// account, does; nil when not needed (no X11 programs, or not root).
	admit func() error
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
		// Sessions get DISPLAY, and each session's account is admitted
		// to the display for the session's length (kiosk/session): the
		// cookie stays the daemon's.
		d.x11Display, d.x11Auth = cfg.Display.X11Display, cfg.Display.XAuthority
		if os.Geteuid() == 0 && d.uiUID > 0 {
			// Under cage Xwayland is the window account's, and admits
			// only that account until it lets others in.
			uid, gid, display := d.uiUID, d.uiGID, d.x11Display
			d.admit = func() error { return session.AdmitRootAs(uid, gid, display) }
		}
	}
	// The socket is checked (a socket, not a link, of the window's
	// account) and granted to the session account at every session
	// start (kiosk/session): cage makes a new one each time it restarts.
	d.wayland = cfg.Display.WaylandSocket
	return d
}

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
