package appliance

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

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/demokey"
	"passkiosk/fido/usbkey"
	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/policy"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/uilink"
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

// Options say how the appliance runs.
type Options struct {
	// Demo runs on the demo's embedded defaults: the virtual security
	// key, the demo people.
	Demo bool
	// Version is the program's, for passkioskctl status.
	Version string
	// Log receives what the appliance says.
	Log *slog.Logger
	// NoWindowSocket keeps the window's socket closed: the window is
	// attached in process (the demo) or not at all (tests).
	NoWindowSocket bool
	// DemoKey is the demo's virtual security key when it is shared (the
	// demo fleet's terminals, NewDemoFleetKey); nil: the demo's own.
	DemoKey *softkey.Key
}

// Appliance is everything but the window: engine, TPM, keys, records,
// sessions, the admin socket and the window's link.
type Appliance struct {
	cfg     *config.Config
	opts    Options
	log     *slog.Logger
	eng     *engine.Engine
	db      *store.DB // nil when the database did not open
	tpm     *tpm.TPM  // nil without a usable TPM
	manager *session.Manager
	admin   *admin.Server
	virtual *demokey.Keys // the demo's key, nil otherwise
	idle    []*idleSource // where idle time comes from
	link    *uilink.Server
	display display    // what session programs are given of the screen
	fleet   *fleetLink // nil: a terminal on its own (fleet.go)

	mu        sync.Mutex
	last      kiosk.View
	published bool // last holds a View from the engine
}

// publish hands a View to the window's link; before the link exists the
// latest is kept and handed over when it does.
func (a *Appliance) publish(v kiosk.View) {
	a.mu.Lock()
	a.last, a.published = v, true
	link := a.link
	a.mu.Unlock()
	if link != nil {
		link.Publish(v)
	}
}

// Republish publishes the engine's current View again (the soak test
// settles the screen with it).
func (a *Appliance) Republish() { a.publish(a.eng.View()) }

// clearClipboard is the session wipe's hook: the window empties the
// display's clipboard (uilink.Server.ClearClipboard says what happens
// without a window).
func (a *Appliance) clearClipboard(ctx context.Context) error {
	a.mu.Lock()
	link := a.link
	a.mu.Unlock()
	if link == nil {
		return nil
	}
	return link.ClearClipboard(ctx)
}

// Engine is the sign-in engine: the window's kiosk.Commands in process.
func (a *Appliance) Engine() *engine.Engine { return a.eng }

// DB is the database, nil when it did not open.
func (a *Appliance) DB() *store.DB { return a.db }

// TPM is the platform passkeys' TPM, nil without one (the soak test
// relaxes the simulator's lockout with it).
func (a *Appliance) TPM() *tpm.TPM { return a.tpm }

// Link is the daemon's side of the window's link.
func (a *Appliance) Link() *uilink.Server {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.link
}

// DemoKeys is the demo's virtual security key, nil outside the demo.
func (a *Appliance) DemoKeys() *demokey.Keys { return a.virtual }

// Config is the configuration the appliance runs on.
func (a *Appliance) Config() *config.Config { return a.cfg }

// ProgramName is the default session program's name, for the window's
// "Start … again" button.
func (a *Appliance) ProgramName() string {
	p := a.eng.Policy().Default.Program
	if len(p) == 0 {
		return ""
	}
	return filepath.Base(p[0])
}

// Start opens everything. Only a failure that leaves nothing to show is an
// error: a broken database or a missing TPM start the appliance out of
// service or without platform passkeys, as the screens then say.
func Start(ctx context.Context, cfg *config.Config, opts Options) (*Appliance, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	a := &Appliance{cfg: cfg, opts: opts, log: opts.Log}
	demo := opts.Demo
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	a.display = displayOf(cfg, a.log)
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
	if a.fleet, err = openFleet(cfg, a.db, a.tpm, records, a.log); err != nil {
		a.log.Error("not joining the fleet", "err", err)
	}
	a.eng = engine.New(engine.Config{
		Terminal: cfg.Terminal, Policy: pol, Store: a.fleet.store(records), Keys: keys, Platform: platform,
		Sessions: sessions, Clock: kiosk.SystemClock{}, Publish: a.publish, OutOfService: strings.Join(outOfService, "; "), Log: a.log,
		Place: a.fleet.place(cfg.Place.Policy()),
	})
	if err := a.openLink(ctx); err != nil {
		a.Close()
		return nil, err
	}
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
func (a *Appliance) openStore(demo bool) error {
	db, err := store.Open(a.cfg.DatabasePath(), store.Options{IsolateCheck: true})
	if err != nil {
		a.log.Error("database", "err", err, "path", a.cfg.DatabasePath())
		return err
	}
	a.db = db
	forwardToJournal(db, a.log)
	if demo {
		if err := seedDemo(db, a.cfg); err != nil {
			return fmt.Errorf("demo people: %w", err)
		}
	}
	return nil
}

// openTPM opens the TPM for platform passkeys and says what its
// dictionary-attack parameters are; without one, the error says why.
func (a *Appliance) openTPM() (*tpm.TPM, error) {
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
func (a *Appliance) openKeys(ctx context.Context, demo bool) (kiosk.RoamingKeys, error) {
	switch {
	case demo:
		v, err := newDemoKey(a.cfg.StateDir, a.opts.DemoKey)
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
func (a *Appliance) listenAdmin(ctx context.Context, keys kiosk.RoamingKeys, demo bool) {
	opts := admin.Options{
		Socket: a.cfg.Admin.Socket, AdminGroup: a.cfg.Admin.Group, Appliance: a.eng,
		Version: a.opts.Version, Terminal: a.cfg.Terminal, Log: a.log,
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
		opts.TPM = &tpmAdmin{k: a.tpm, fleetKey: filepath.Join(a.cfg.StateDir, fleetKeyFile)}
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
func (a *Appliance) signExport(h *auditfile.Header) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return auditfile.Sign(h, func(st []byte) ([]byte, *ecdsa.PublicKey, error) {
		return a.tpm.SignStatement(ctx, st)
	})
}

// maintain prunes history the configuration no longer keeps, now and then
// every period, until ctx ends.
func (a *Appliance) maintain(ctx context.Context, period time.Duration) {
	days := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	r := a.cfg.Retention
	keep := storeport.Retention{
		Audit:    store.Retention{MaxAge: days(r.AuditDays), MaxEntries: r.AuditEntries},
		Sessions: days(r.SessionDays), Codes: days(r.CodeDays),
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		// On a fleet terminal what the fleet has not received stays.
		keep.Audit.KeepFrom = a.fleet.keepFrom()
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
func (a *Appliance) openSessions(records *storeport.Records) (kiosk.Sessions, error) {
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
		Wayland: a.display.wayland, WaylandOwner: a.display.uiUID, PassEnv: sessionPassEnv,
		X11Display: a.display.x11Display, X11Authority: a.display.x11Auth, X11Admit: a.display.admit,
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
func (a *Appliance) sayConfinement(records *storeport.Records) {
	m := a.manager
	if why := m.Fallback(); why != "" {
		sb, _ := m.Sandbox()
		a.log.Warn("sessions are confined less than configured", "sandbox", sb.String(), "configured", a.cfg.Session.Sandbox, "reason", why)
		records.Audit(kiosk.AuditEvent{Type: kiosk.EventSandboxFallback, Outcome: "degraded", Detail: map[string]string{
			"sandbox": sb.String(), "configured": a.cfg.Session.Sandbox, "reason": why}})
	}
	if ok, why := m.Wayland(); !ok && a.cfg.Display.WaylandSocket != "" {
		a.log.Warn("Wayland session programs cannot show windows", "reason", why, "x11_allowed", a.display.x11)
	}
}

// recoverSessions wipes what the journal says a crash left behind, before
// the lock screen shows, and audits each wipe.
func (a *Appliance) recoverSessions(records *storeport.Records) error {
	reports, err := a.manager.Recover()
	for _, r := range reports {
		files := r.Files + r.OutsideFiles
		a.log.Warn("wiped a session left by a crash", "files", files, "processes", r.Processes)
		records.Audit(kiosk.AuditEvent{Type: kiosk.EventWipe, Outcome: "recovered", Detail: map[string]string{
			"files": strconv.Itoa(files), "processes": strconv.Itoa(r.Processes)}})
	}
	if err != nil {
		return fmt.Errorf("recovering sessions left by a crash: %w", err)
	}
	return nil
}

// openIdle is where the engine learns of input to the session programs.
func (a *Appliance) openIdle() session.AnyInput {
	// Idle is input to anything on the screen: the kernel's input devices
	// see every touch and key whatever the display server (under cage
	// they are the only place that does); the window reports input to
	// itself as Activity. The X server is asked only when X11 session
	// programs are allowed: the query connects to Xwayland, which makes
	// cage start it (66 MB) for nothing otherwise. It also sees input
	// injected with XTEST. Either answering is enough.
	a.idle = []*idleSource{{name: "input devices", src: &session.EvdevIdle{}}}
	if a.display.x11 {
		a.idle = append(a.idle, &idleSource{name: "X server", src: &session.X11Idle{Display: a.cfg.Display.X11Display, XAuthority: a.cfg.Display.XAuthority}})
	}
	var sources session.AnyInput
	for _, s := range a.idle {
		sources = append(sources, s)
	}
	if _, err := sources.Idle(context.Background()); err != nil {
		a.log.Warn("input to the session programs cannot be seen; idle time counts input to the window only", "err", err)
	}
	return sources
}

// isolation is the sessions' sandbox, whether Wayland programs can show
// windows, and the idle sources whose last query answered, for
// passkioskctl status.
func (a *Appliance) isolation() admin.Isolation {
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
	// Input to the window itself reaches the engine as Activity while a
	// window is connected.
	if link := a.Link(); link != nil && link.Connected() {
		iso.Idle = append(iso.Idle, "the window")
	}
	return iso
}

// shutdownWait bounds how long a stop waits for the session's wipe.
const shutdownWait = 20 * time.Second

// Close ends a running session and releases everything.
func (a *Appliance) Close() {
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
	if a.link != nil {
		a.link.Close()
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
