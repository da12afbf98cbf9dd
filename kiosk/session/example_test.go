package session_test

import (
	"context"
	"fmt"
	"log"

	"passkiosk/kiosk"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// The appliance's use of the package: recover at start, run a session,
// end it and audit the report. (Needs root and bubblewrap, so it is only
// compiled here; the tests run the same steps.)
func Example() {
	m, err := session.New(session.Config{
		StateRoot: "/var/lib/passkiosk", Sandbox: session.SandboxAuto,
		UID: 990, GID: 990, DedicatedUID: true,
		Journal: sessiontest.NewMemJournal(), // the store's journal in production
		Clock:   kiosk.SystemClock{},
	})
	if err != nil {
		log.Fatal(err)
	}
	sandbox, why := m.Sandbox()
	fmt.Println("sandbox:", sandbox, why)
	if reports, err := m.Recover(); err != nil || len(reports) > 0 {
		fmt.Println("recovered", len(reports), "sessions:", err)
	}
	s, err := m.Start(context.Background(), session.Spec{User: "alice",
		Program: []string{"/usr/bin/chromium", "--kiosk", "https://intranet.example"}})
	if err != nil {
		log.Fatal(err)
	}
	<-s.Exited() // or the engine's logout, idle, key removal…
	r, err := s.End(kiosk.EndFailed)
	fmt.Printf("stopped %d processes, removed %d files (%d bytes) in %v; clean %v, %v\n",
		r.Processes, r.Files, r.Bytes, r.Total, r.Clean(), err)
}
