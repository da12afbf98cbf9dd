package admin_test

import (
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
)

// A fleet terminal's status says whether it reaches the directory, and
// offline is a reason for "degraded" with the time it was last reached.
func TestStatusShowsTheFleet(t *testing.T) {
	since := time.Date(2026, 12, 6, 14, 2, 0, 0, time.Local)
	online := true
	a := newAppliance(t, func(o *admin.Options) {
		o.Fleet = func() admin.FleetStatus {
			if online {
				return admin.FleetStatus{Name: "ward7-bay2", Online: true, Revision: 41, Current: since}
			}
			return admin.FleetStatus{Name: "ward7-bay2", OfflineSince: since, Revision: 41, Current: since, Stale: true, Strict: true}
		}
	})
	st := decode[admin.Status](t, a.ok("status", "--json"))
	if st.Health != "ok" || st.Fleet == nil || !st.Fleet.Online || st.Fleet.Revision != 41 {
		t.Fatalf("online: %+v %+v", st, st.Fleet)
	}
	if r := a.ok("status"); !strings.Contains(r.out, "fleet:     online as ward7-bay2; copy at revision 41") {
		t.Fatalf("status: %s", r)
	}
	online = false
	st = decode[admin.Status](t, a.ok("status", "--json"))
	if st.Health != "degraded" || len(st.Degraded) != 1 || !strings.Contains(st.Degraded[0], "offline since 14:02") {
		t.Fatalf("offline: %+v", st)
	}
	r := a.ok("status")
	for _, want := range []string{"fleet:     offline since 14:02, copy older than the offline limit (security keys refused)",
		"degraded:  fleet: offline since 14:02; signing people in from this terminal's copy, which is older than the offline limit: security keys are refused"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("status lacks %q: %s", want, r)
		}
	}
}

// Audit shipping shows in the fleet's status, and a stop (a fork) makes
// the terminal degraded with the reason.
func TestStatusShowsAuditShipping(t *testing.T) {
	stopped := ""
	a := newAppliance(t, func(o *admin.Options) {
		o.Fleet = func() admin.FleetStatus {
			return admin.FleetStatus{Name: "ward7-bay2", Online: true, Revision: 41, AuditShipped: 120, AuditLocal: 123, AuditStopped: stopped}
		}
	})
	if r := a.ok("status"); !strings.Contains(r.out, "audit: 120 of 123 entries shipped") || strings.Contains(r.out, "degraded:") {
		t.Fatalf("status while shipping: %s", r)
	}
	stopped = "behind"
	st := decode[admin.Status](t, a.ok("status", "--json"))
	if st.Health != "degraded" || len(st.Degraded) != 1 || !strings.Contains(st.Degraded[0], "audit shipping stopped at entry 120: behind") {
		t.Fatalf("stopped: %+v", st)
	}
	if r := a.ok("status"); !strings.Contains(r.out, "shipping stopped: behind") {
		t.Fatalf("status when stopped: %s", r)
	}
}
