package appliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet/fleetadmin"
)

// An administrator sees the session in progress at a fleet terminal
// through the fleet service and ends it there: the terminal's engine
// ends it as an administrator's end, and the terminal's audit log says
// which administrator asked.
func TestFleetAdministratorEndsASessionAtATerminal(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ft := startFleetTerminal(t, log)
	ft.signIn()

	ctx := context.Background()
	cl := fleetAdmin(t, ft, "alice", log)
	list := sessionsUntil(t, cl, func(l []fleetapi.FleetSession) bool { return len(l) > 0 })
	if s := list[0]; s.Terminal != "ward7" || s.UserName != "nurse" || s.DisplayName != "Nina" || s.Started.IsZero() {
		t.Fatalf("sessions list: %+v", list)
	}
	var terms fleetapi.TerminalList
	if err := cl.Call(ctx, fleetapi.CmdTerminalsList, nil, &terms); err != nil || len(terms.Terminals) != 1 || terms.Terminals[0].Health == "silent" {
		t.Fatalf("terminals list: %+v (%v)", terms, err)
	}
	t.Logf("terminals list: %+v", terms.Terminals[0])
	var wrong fleetapi.SessionEnded
	if err := cl.Call(ctx, admin.CmdSessionsEnd, fleetapi.SessionEndArgs{Terminal: "ward7", User: "someone-else"}, &wrong); !isCode(err, admin.ExitConflict) {
		t.Fatalf("ending another person's session: %v", err)
	}
	start := time.Now()
	var ended fleetapi.SessionEnded
	if err := cl.Call(ctx, admin.CmdSessionsEnd, fleetapi.SessionEndArgs{Terminal: "ward7", User: "nurse"}, &ended); err != nil {
		t.Fatalf("sessions end: %v", err)
	}
	t.Logf("sessions end answered in %s", time.Since(start))
	ft.wait("session ended by an administrator", func(v kiosk.View) bool {
		return v.Notice != nil && v.Notice.Code == kiosk.NoticeSessionEnded && v.Notice.Cause == kiosk.EndAdmin
	})
	evs, err := ft.db.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e.Type == kiosk.EventSessionEndRequested && e.Actor == "fleet admin alice" && e.Detail["accepted"] == "true" && e.Detail["via"] == "fleet" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audited end request by alice among %d entries", len(evs))
	}
	sessionsUntil(t, cl, func(l []fleetapi.FleetSession) bool { return len(l) == 0 })
	if err := cl.Call(ctx, admin.CmdSessionsEnd, fleetapi.SessionEndArgs{Terminal: "ward7"}, nil); !isCode(err, admin.ExitNotFound) {
		t.Fatalf("ending a session that ended: %v", err)
	}
}

// fleetAdmin serves the fleet's admin API over TLS for the terminal's
// cluster and returns a client with the certificate of name, an admin.
func fleetAdmin(t *testing.T, ft *fleetTerminal, name string, log *slog.Logger) *fleetapi.Client {
	ctx := context.Background()
	rec, err := fleetapi.EncodeAdmin(fleetapi.Admin{Name: name, Role: fleetapi.RoleAdmin, Added: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ft.dir.Client.Put(ctx, fleetapi.AdminKey(name), string(rec)); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(ft.c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	srv := httptest.NewUnstartedServer(fleetadmin.Handler(fleetadmin.Options{Dir: ft.dir, AdminCAs: pool, Log: log}))
	sc, sk := ft.c.CA.Issue("fleetd", true)
	cert, err := tls.LoadX509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ac, ak := ft.c.CA.Issue(name, false)
	cl, err := fleetapi.NewClient(srv.URL, ac, ak, ft.c.CA.File)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// sessionsUntil lists the fleet's sessions until ok says the list is
// the one waited for, for at most 15 s.
func sessionsUntil(t *testing.T, cl *fleetapi.Client, ok func([]fleetapi.FleetSession) bool) []fleetapi.FleetSession {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var list []fleetapi.FleetSession
		if err := cl.Call(context.Background(), admin.CmdSessionsList, nil, &list); err != nil {
			t.Fatal(err)
		}
		if ok(list) {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions list stayed %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func isCode(err error, code int) bool {
	we, ok := err.(*admin.Error)
	return ok && we.Code == code
}
