package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/ship"
	"passkiosk/store/storeport"
	"passkiosk/tpm"
)

// fleetLink is the appliance's membership of a fleet ([fleet] in the
// configuration): the etcd client, the agent that keeps the store's mirror
// of the directory, and the engine's records that check codes with the
// directory. A nil *fleetLink is a terminal on its own; every method works
// on it.
//
// The appliance needs four lines for it, in this order:
//
//	fl, err := openFleet(cfg, a.db, a.tpm, records, log) // before engine.New; err: log it, fl stays nil
//	engine.Config{Store: fl.store(records), …}         // the engine's records
//	fl.start(ctx, a.eng)                               // after engine.New
//	admin.Options{Fleet: fl.statusFunc(), …}           // passkioskctl status
//
// and fl.close() in Close, before the database closes.
type fleetLink struct {
	cfg      config.Fleet
	terminal string // the appliance's display name, for its audit entries
	log      *slog.Logger
	db       *store.DB
	client   *clientv3.Client
	agent    *fleet.Agent
	shipper  *ship.Shipper // the terminal's audit log to the cluster
	records  *fleet.Records
	cancel   context.CancelFunc
	done     chan struct{}
	home     policy.Place // the configuration's [place]: this terminal's place while the directory has none (place.go)
}

// openFleet dials the cluster (the client connects in the background: no
// network is needed to start) and prepares the agent. It returns nil, nil
// for a terminal on its own or without a database.
func openFleet(cfg *config.Config, db *store.DB, k *tpm.TPM, local *storeport.Records, log *slog.Logger) (*fleetLink, error) {
	if !cfg.Fleet.Enabled() || db == nil {
		return nil, nil
	}
	f := cfg.Fleet
	cc, err := fleetClientConfig(f, k)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	client, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	l := &fleetLink{cfg: f, terminal: cfg.Terminal, log: log, db: db, client: client, home: cfg.Place.Policy()}
	l.agent, err = fleet.NewAgent(fleet.Options{Client: client, DB: db, Terminal: f.Name, MaxAge: f.MaxAge(), Log: log})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("fleet: %w", err)
	}
	// Codes are checked with the directory and used up in one etcd
	// transaction, by the fleet service (store/fleet doc.go); without
	// one configured, the terminal's own client carries the transaction,
	// which its role must then allow.
	var codes fleet.Codes = &fleet.Directory{Client: client}
	if f.Service != "" {
		codes = &fleet.Service{URL: f.Service, HTTP: &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: cc.TLS}}}
	}
	l.records = fleet.NewRecords(local, codes, l.agent)
	if l.shipper, err = ship.New(db, client, ship.Options{Name: f.Name, Logger: log.With("part", "audit shipping")}); err != nil {
		client.Close()
		return nil, err
	}
	return l, nil
}

// store is the engine's records: the fleet's on a fleet terminal.
func (l *fleetLink) store(local *storeport.Records) kiosk.Store {
	if l == nil {
		return local
	}
	return l.records
}

// start runs the agent until ctx ends, and tells the engine what each
// batch changed: a revoked person's session ends, the lock screen shows
// offline, a stale copy refuses security keys when strict, a new policy
// is applied.
func (l *fleetLink) start(ctx context.Context, eng *engine.Engine) {
	if l == nil {
		return
	}
	mode := engine.RevokeAtOnce
	if l.cfg.RevokeEndsSession == "at-idle" {
		mode = engine.RevokeAtIdle
	}
	l.agent.SetHooks(func(r store.MirrorApplied) {
		users := make([]kiosk.UserID, len(r.Stopped))
		for i, u := range r.Stopped {
			users[i] = kiosk.UserID(u)
		}
		if len(users) > 0 || len(r.Revoked) > 0 {
			eng.Revoked(users, r.Revoked, mode)
		} else if r.Users > 0 || r.Creds > 0 {
			eng.PeopleChanged()
		}
		if r.Policy != 0 {
			l.applyPolicy(eng)
		}
		if r.Place {
			eng.SetPlace(l.place(l.home))
		}
	}, func(st fleet.Status) {
		eng.SetOffline(st.OfflineSince)
		why := ""
		if st.Stale && l.cfg.OfflineStrict {
			why = fmt.Sprintf("this terminal has not reached the fleet's directory since %s, longer than %s: security keys are refused until it does",
				st.OfflineSince.Local().Format("15:04"), l.cfg.MaxAge())
		}
		eng.RefuseKeys(why)
	})
	eng.SetOffline(l.agent.Status().OfflineSince)
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{}, 3)
	go func() { defer func() { l.done <- struct{}{} }(); l.agent.Run(ctx) }()
	go func() { defer func() { l.done <- struct{}{} }(); l.shipper.Run(ctx) }()
	go func() { defer func() { l.done <- struct{}{} }(); l.runSessions(ctx, eng) }()
}

// applyPolicy gives the engine the policy the directory brought.
func (l *fleetLink) applyPolicy(eng *engine.Engine) {
	sp, err := l.db.CurrentPolicy()
	if err == nil {
		p, derr := config.DecodeStoredPolicy(sp.Version, sp.Schema, sp.Data)
		if err = derr; err == nil {
			err = eng.SetPolicy(p)
		}
	}
	if err != nil {
		l.log.Error("fleet: the directory's policy was not applied", "err", err)
	}
}

// statusFunc is admin.Options.Fleet: nil for a terminal on its own.
func (l *fleetLink) statusFunc() func() admin.FleetStatus {
	if l == nil {
		return nil
	}
	return l.status
}

// status is the fleet line of passkioskctl status.
func (l *fleetLink) status() admin.FleetStatus {
	st, sh := l.agent.Status(), l.shipper.Status()
	f := admin.FleetStatus{Name: l.cfg.Name, Online: st.Online, OfflineSince: st.OfflineSince, Revision: st.Revision,
		Current: st.Current, Stale: st.Stale, Strict: l.cfg.OfflineStrict, Reloads: st.Reloads,
		AuditShipped: sh.Shipped, AuditLocal: sh.Local}
	if sh.Fork != nil {
		f.AuditStopped = sh.Fork.Reason
	}
	return f
}

// keepFrom is store.Retention.KeepFrom: the first audit entry the
// cluster has not received (1 while the shipper has not heard from it),
// which local pruning must keep; 0 for a terminal on its own.
func (l *fleetLink) keepFrom() uint64 {
	if l == nil {
		return 0
	}
	return l.shipper.Status().Shipped + 1
}

// close stops the agent and the client.
func (l *fleetLink) close() {
	if l == nil {
		return
	}
	if l.cancel != nil {
		l.cancel()
		deadline := time.After(5 * time.Second)
	wait:
		for range cap(l.done) {
			select {
			case <-l.done:
			case <-deadline:
				l.log.Error("fleet: the agent, the audit shipping or the sessions link did not stop within 5 s")
				break wait
			}
		}
	}
	l.client.Close()
}
