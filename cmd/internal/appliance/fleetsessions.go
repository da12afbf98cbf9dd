package appliance

import (
	"bytes"
	"context"
	"encoding/hex"
	"runtime/debug"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/engine"
	"passkiosk/store/fleet"
	"passkiosk/store/storeport"
)

// runSessions publishes the terminal's session in progress to the fleet
// and ends it when an administrator asks through the fleet service
// (passkioskctl --fleet sessions end), until ctx ends.
func (l *fleetLink) runSessions(ctx context.Context, eng *engine.Engine) {
	link := &fleet.SessionLink{Client: l.client, Terminal: l.cfg.Name, Log: l.log.With("part", "fleet sessions"),
		Current: func() *fleet.TermSession {
			s := eng.View().Session
			if s == nil {
				return nil
			}
			return &fleet.TermSession{UserID: []byte(s.User), DisplayName: s.DisplayName, Started: s.Started, EndsAt: s.EndsAt}
		},
		End:          func(r fleet.EndRequest) bool { return l.endSession(eng, r) },
		OutOfService: func() string { return eng.View().OutOfService },
		Build:        build(),
	}
	link.Run(ctx)
}

// endSession ends the session of r.UserID if it is the one in progress.
// The engine audits the end and the wipe; the request is audited here,
// as the local admin API does (EventSessionEndRequested), with the
// administrator who made it.
func (l *fleetLink) endSession(eng *engine.Engine, r fleet.EndRequest) bool {
	s := eng.View().Session
	accepted := s != nil && bytes.Equal([]byte(s.User), r.UserID) && eng.EndSession(kiosk.EndAdmin)
	detail := map[string]string{"via": "fleet", "request": hex.EncodeToString(r.ID)}
	if s != nil {
		detail["session-started"] = s.Started.UTC().Format(time.RFC3339)
	}
	ch := admin.Change{Actor: "fleet admin " + r.By, Detail: detail}
	if err := storeport.NewAdmin(l.db, l.terminal).EndRequested(hex.EncodeToString(r.UserID), accepted, ch); err != nil {
		l.log.Error("fleet: a session end request was not audited", "by", r.By, "accepted", accepted, "err", err)
	}
	l.log.Info("fleet: session end requested", "by", r.By, "accepted", accepted)
	return accepted
}

// build names this build for the fleet's terminal list: the module
// version when it has one, else the commit it was built from (with
// "+dirty" for uncommitted changes), else "".
func build() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, st := range bi.Settings {
		switch {
		case st.Key == "vcs.revision" && len(st.Value) >= 12:
			rev = st.Value[:12]
		case st.Key == "vcs.modified" && st.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}
