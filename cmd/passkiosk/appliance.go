package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"passkiosk/kiosk/auditfile"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"passkiosk/fido/usbkey"
	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/policy"
	"passkiosk/kiosk/session"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/tpm"
)

// idleSource is one place idle time comes from, named for status, which
// reads how its last query went instead of asking again (a query can wait
// behind the engine's for seconds).
type idleSource struct {
	name string
	src  interface {
		session.IdleSource
		io.Closer
	}

	mu       sync.Mutex
	answered bool // the last query succeeded
}

// Idle asks the source and remembers whether it answered.
func (s *idleSource) Idle(ctx context.Context) (time.Duration, error) {
	d, err := s.src.Idle(ctx)
	s.mu.Lock()
	s.answered = err == nil
	s.mu.Unlock()
	return d, err
}

func (s *idleSource) lastAnswered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// appliance is everything the window and the signal handler need.
type appliance struct {
	cfg     *config.Config
	log     *slog.Logger
	eng     *engine.Engine
	db      *store.DB // nil when the database did not open
	tpm     *tpm.TPM  // nil without a usable TPM
	manager *session.Manager
	admin   *admin.Server
	virtual *virtualKeys  // the demo's key, nil otherwise
	idle    []*idleSource // where idle time comes from
	fleet   *fleetLink    // nil: a terminal on its own (fleet.go)

	mu        sync.Mutex
	show      func(kiosk.View)                // the UI, once it exists
	clipboard func(ctx context.Context) error // the UI's, once it exists
	last      kiosk.View
}

// publish hands a View to the UI; before the window exists the latest is
// kept and shown when it opens.
func (a *appliance) publish(v kiosk.View) {
	a.mu.Lock()
	a.last = v
	show := a.show
	a.mu.Unlock()
	if show != nil {
		show(v)
	}
}

func (a *appliance) attach(show func(kiosk.View), clipboard func(context.Context) error) {
	a.mu.Lock()
	a.show, a.clipboard = show, clipboard
	v := a.last
	a.mu.Unlock()
	show(v)
}

// detach forgets the window once its loop has ended.
func (a *appliance) detach() {
	a.mu.Lock()
	a.show, a.clipboard = nil, nil
	a.mu.Unlock()
}

// clearClipboard is the session wipe's hook: the window empties the
// display's clipboard. Without a window the appliance holds no clipboard,
// and the session's own selections went with its processes.
func (a *appliance) clearClipboard(ctx context.Context) error {
	a.mu.Lock()
	clear := a.clipboard
	a.mu.Unlock()
	if clear == nil {
		return nil
	}
	return clear(ctx)
}

// start opens everything. Only a failure that leaves nothing to show is an
// error: a broken database or a missing TPM start the appliance out of
// service or without platform passkeys, as the screens then say.
func start(ctx context.Context, cfg *config.Config, demo bool, log *slog.Logger) (*appliance, error) {
	a := &appliance{cfg: cfg, log: log}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	var outOfService []string // every reason, the first the most basic
	if err := a.openStore(demo); err != nil {
		if a.db != nil {
			return nil, err
		}
		outOfService = append(outOfService, "the database cannot be used: "+err.Error())
	}
	records := storeport.NewRecords(a.db, cfg.Terminal)
	pol, err := loadPolicy(a.db, cfg)
	if err != nil {
		outOfService = append(outOfService, "the policy is not valid: "+err.Error())
		pol = policy.Default()
		_ = pol.Validate()
	}
	platform := tpm.NewPlatform(a.openTPM())
	keys, err := a.openKeys(ctx, demo)
	if err != nil {
		return nil, err
	}
	sessions, err := a.openSessions(records)
	if err != nil {
		outOfService = append(outOfService, "sessions cannot be isolated here: "+err.Error())
	}
	if a.fleet, err = openFleet(cfg, a.db, records, log); err != nil {
		log.Error("not joining the fleet", "err", err)
	}
	a.eng = engine.New(engine.Config{
		Terminal: cfg.Terminal, Policy: pol, Store: a.fleet.store(records), Keys: keys, Platform: platform,
		Sessions: sessions, Clock: kiosk.SystemClock{}, Publish: a.publish, OutOfService: strings.Join(outOfService, "; "), Log: log,
	})
	go a.eng.Run(ctx)
	a.fleet.start(ctx, a.eng)
	if a.db != nil {
		go a.maintain(ctx, 24*time.Hour)
	}
	if err := a.forwardToSyslog(ctx); err != nil {
		a.log.Error("audit entries are not forwarded to the syslog collector", "err", err)
	}
	a.listenAdmin(ctx, keys, demo)
	return a, nil
}

// openStore opens the database (and, for the demo, seeds its people). An
// error with a.db nil leaves the appliance to start out of service; with
// a.db set it is fatal.
func (a *appliance) openStore(demo bool) error {
	db, err := store.Open(a.cfg.DatabasePath(), store.Options{IsolateCheck: true})
	if err != nil {
		a.log.Error("database", "err", err, "path", a.cfg.DatabasePath())
		return err
	}
	a.db = db
	forwardToJournal(db, a.log)
	if demo {
		if err := seedDemo(db, a.cfg.Terminal); err != nil {
			return fmt.Errorf("demo people: %w", err)
		}
	}
	return nil
}

// openTPM opens the TPM for platform passkeys and says what its
// dictionary-attack parameters are; without one, the error says why.
func (a *appliance) openTPM() (*tpm.TPM, error) {
	k, err := tpm.Open(tpmConfig(a.cfg, a.db, func(f string, args ...any) { a.log.Warn(fmt.Sprintf(f, args...)) }))
	if err != nil {
		a.log.Warn("no platform passkeys", "reason", err)
		return nil, err
	}
	a.tpm = k
	if da := k.DAStatus(); da.Managed {
		a.log.Info("tpm dictionary-attack parameters", "max", da.State.MaxTries, "interval", da.State.Interval,
			"recovery", da.State.Recovery, "counter", da.State.Failures, "authorization", da.Source)
	} else {
		a.log.Warn("tpm dictionary-attack parameters not managed; the chip's are in force", "reason", da.Reason,
			"max", da.State.MaxTries, "interval", da.State.Interval, "counter", da.State.Failures)
	}
	return k, nil
}

// openKeys is the demo's virtual key, the USB keys through libfido2, or
// none when the configuration turns them off.
func (a *appliance) openKeys(ctx context.Context, demo bool) (kiosk.RoamingKeys, error) {
	switch {
	case demo:
		v, err := newDemoKey(a.cfg.StateDir)
		if err != nil {
			return nil, err
		}
		a.virtual = v
		return v, nil
	case a.cfg.SecurityKeys.Enabled:
		return usbkey.NewPort(ctx, usbkey.WatchOptions{}, usbkey.Options{}), nil
	}
	return nil, nil
}

// listenAdmin opens the admin socket; without it the terminal still signs
// people in, and the log says why IT cannot reach it.
func (a *appliance) listenAdmin(ctx context.Context, keys kiosk.RoamingKeys, demo bool) {
	opts := admin.Options{
		Socket: a.cfg.Admin.Socket, AdminGroup: a.cfg.Admin.Group, Appliance: a.eng,
		Version: version, Terminal: a.cfg.Terminal, Log: a.log,
		OnPolicy: func(p policy.Policy) {
			if err := a.eng.SetPolicy(p); err != nil {
				a.log.Error("policy", "err", err)
			}
		},
		OnPeople: a.eng.PeopleChanged,
		Fleet:    a.fleet.statusFunc(),
	}
	if a.db != nil {
		st := storeport.NewAdmin(a.db, a.cfg.Terminal)
		if a.tpm != nil {
			st = st.WithSigner(a.signExport)
		}
		opts.Store = st
	}
	if keys != nil {
		opts.Keys = keys.Present
	}
	if a.tpm != nil {
		opts.TPM = &tpmAdmin{k: a.tpm}
	}
	if a.manager != nil {
		opts.Isolation = a.isolation
	}
	var err error
	if a.admin, err = admin.Listen(opts); err != nil {
		a.log.Error("admin socket", "err", err)
		return
	}
	go a.admin.Serve(ctx)
	if demo {
		printDemoAdmin(a.cfg.Admin.Socket)
	}
}

// signExport signs an audit export's header with the TPM's attestation
// key, so an auditor can tell the file came from this terminal.
func (a *appliance) signExport(h *auditfile.Header) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return auditfile.Sign(h, func(st []byte) ([]byte, *ecdsa.PublicKey, error) {
		return a.tpm.SignStatement(ctx, st)
	})
}

// maintain prunes history the configuration no longer keeps, now and then
// every period, until ctx ends.
func (a *appliance) maintain(ctx context.Context, period time.Duration) {
	days := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	r := a.cfg.Retention
	keep := storeport.Retention{
		Audit:    store.Retention{MaxAge: days(r.AuditDays), MaxEntries: r.AuditEntries},
		Sessions: days(r.SessionDays), Codes: days(r.CodeDays),
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		m, err := storeport.Maintain(a.db, time.Time{}, keep)
		if err != nil {
			a.log.Error("pruning history", "err", err)
		} else if m != (storeport.Maintained{}) {
			a.log.Info("pruned history", "audit_entries", m.AuditEntries, "sessions", m.Sessions, "codes", m.Codes)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loadPolicy is the newest stored policy, else the configured file, else
// the built-in default.
func loadPolicy(db *store.DB, cfg *config.Config) (policy.Policy, error) {
	if db != nil {
		sp, err := db.CurrentPolicy()
		if err == nil {
			return config.DecodeStoredPolicy(sp.Version, sp.Schema, sp.Data)
		}
		if kiosk.KindOf(err) != kiosk.KindNotFound {
			return policy.Policy{}, err
		}
	}
	if cfg.PolicyFile != "" {
		if _, err := os.Stat(cfg.PolicyFile); err == nil {
			return config.LoadPolicy(cfg.PolicyFile)
		}
	}
	p := policy.Default()
	return p, p.Validate()
}

// openSessions sets up isolated sessions and wipes whatever the journal
// says a crash left behind, before anyone can sign in.
func (a *appliance) openSessions(records *storeport.Records) (kiosk.Sessions, error) {
	sandbox, err := session.ParseSandbox(a.cfg.Session.Sandbox)
	if err != nil {
		return nil, err
	}
	// Sessions never fall back to another account than the configured one.
	u, err := user.Lookup(a.cfg.Session.User)
	if err != nil {
		return nil, fmt.Errorf("session user %q: %w", a.cfg.Session.User, err)
	}
	id, _ := strconv.ParseUint(u.Uid, 10, 32)
	g, _ := strconv.ParseUint(u.Gid, 10, 32)
	uid, gid := uint32(id), uint32(g)
	dedicated := a.cfg.Session.DedicatedUser && uid != 65534 // nobody is never dedicated
	journal := storeport.NewJournal(a.db, a.cfg.Terminal,
		session.Record{Sandbox: sandbox, UID: uid, GID: gid, Dedicated: dedicated})
	m, err := session.New(session.Config{
		StateRoot: a.cfg.StateDir, Sandbox: sandbox, UID: uid, GID: gid,
		DedicatedUID: dedicated, Journal: journal, ClearClipboard: a.clearClipboard,
		Wayland: waylandSocket(a.log),
	})
	if err != nil {
		return nil, err
	}
	a.manager = m
	a.sayConfinement(records)
	if err := a.recoverSessions(records); err != nil {
		return nil, err
	}
	return &session.Port{Manager: m, Idle: a.openIdle()}, nil
}

// sayConfinement says out loud, not only on the status screen, when
// sessions are confined less than the configuration asked: the audit log
// shows every such start.
func (a *appliance) sayConfinement(records *storeport.Records) {
	m := a.manager
	if why := m.Fallback(); why != "" {
		sb, _ := m.Sandbox()
		a.log.Warn("sessions are confined less than configured", "sandbox", sb.String(), "configured", a.cfg.Session.Sandbox, "reason", why)
		records.Audit(kiosk.AuditEvent{Type: kiosk.EventSandboxFallback, Outcome: "degraded", Detail: map[string]string{
			"sandbox": sb.String(), "configured": a.cfg.Session.Sandbox, "reason": why}})
	}
	if ok, why := m.Wayland(); !ok && os.Getenv("WAYLAND_DISPLAY") != "" {
		a.log.Warn("Wayland session programs cannot show windows; X11 ones can", "reason", why)
	}
}

// recoverSessions wipes what the journal says a crash left behind, before
// the lock screen shows, and audits each wipe.
func (a *appliance) recoverSessions(records *storeport.Records) error {
	reports, err := a.manager.Recover()
	for _, r := range reports {
		s := r.Summary()
		a.log.Warn("wiped a session left by a crash", "files", s.Files, "processes", s.Processes)
		records.Audit(kiosk.AuditEvent{Type: kiosk.EventWipe, Outcome: "recovered", Detail: map[string]string{
			"files": strconv.Itoa(s.Files), "processes": strconv.Itoa(s.Processes)}})
	}
	if err != nil {
		return fmt.Errorf("recovering sessions left by a crash: %w", err)
	}
	return nil
}

// openIdle is where the engine learns of input to the session programs.
func (a *appliance) openIdle() session.AnyInput {
	// Idle is input to anything on the screen: the kernel's input devices
	// see every touch and key whatever the display server (under cage
	// they are the only place that does), and the X server also sees
	// input injected with XTEST. Either answering is enough.
	a.idle = []*idleSource{{name: "input devices", src: &session.EvdevIdle{}}}
	if d := os.Getenv("DISPLAY"); d != "" {
		a.idle = append(a.idle, &idleSource{name: "X server", src: &session.X11Idle{Display: d, XAuthority: os.Getenv("XAUTHORITY")}})
	}
	var sources session.AnyInput
	for _, s := range a.idle {
		sources = append(sources, s)
	}
	if _, err := sources.Idle(context.Background()); err != nil {
		a.log.Warn("input to the session programs cannot be seen; idle time counts input to this window only", "err", err)
	}
	return sources
}

// isolation is the sessions' sandbox, whether Wayland programs can show
// windows, and the idle sources whose last query answered, for
// passkioskctl status.
func (a *appliance) isolation() admin.Isolation {
	sb, why := a.manager.Sandbox()
	iso := admin.Isolation{Sandbox: sb.String(), Reason: why, Idle: []string{}, Fallback: a.manager.Fallback()}
	if ok, why := a.manager.Wayland(); !ok {
		iso.NoWayland = why
	}
	for _, s := range a.idle {
		if s.lastAnswered() {
			iso.Idle = append(iso.Idle, s.name)
		}
	}
	return iso
}

// waylandSocket is the compositor's socket when the appliance runs under a
// Wayland compositor (cage sets WAYLAND_DISPLAY and XDG_RUNTIME_DIR), so
// that Wayland session programs can show their windows; "" otherwise.
func waylandSocket(log *slog.Logger) string {
	name := os.Getenv("WAYLAND_DISPLAY")
	if name == "" {
		return ""
	}
	if !filepath.IsAbs(name) {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if !filepath.IsAbs(dir) {
			log.Warn("WAYLAND_DISPLAY is set but XDG_RUNTIME_DIR is not an absolute path; no Wayland socket for sessions", "dir", dir)
			return ""
		}
		name = filepath.Join(dir, name)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Type() != os.ModeSocket {
		log.Warn("no Wayland socket for sessions; they reach the display through X11 only", "path", name)
		return ""
	}
	return name
}

// shutdownWait bounds how long a stop waits for the session's wipe.
const shutdownWait = 20 * time.Second

// Close ends a running session and releases everything.
func (a *appliance) Close() {
	if a.eng != nil {
		// The engine's end wipes, closes the journal record and audits;
		// EndAll below only catches what it could not finish in time.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		if err := a.eng.Shutdown(ctx); err != nil {
			a.log.Error("ending the session", "err", err)
		}
		cancel()
	}
	if a.manager != nil {
		if _, err := a.manager.EndAll(kiosk.EndShutdown); err != nil {
			a.log.Error("ending sessions", "err", err)
		}
	}
	if a.admin != nil {
		a.admin.Close()
	}
	for _, s := range a.idle {
		s.src.Close()
	}
	if a.tpm != nil {
		a.tpm.Close()
	}
	a.fleet.close()
	if a.db != nil {
		a.db.Close()
	}
}
