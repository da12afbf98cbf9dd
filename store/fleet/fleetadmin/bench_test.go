package fleetadmin

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store"
	"passkiosk/store/fleet"
)

// A fleet of 500 terminals (inventory, heartbeats, some observations and
// platform credentials under term/) and 1000 people: how long the
// admin tool's listings take, end to end over HTTPS.
func BenchmarkListings(b *testing.B) {
	r := startRig(b)
	ctx := context.Background()
	for i := range 500 {
		name := fmt.Sprintf("ward%d-bay%d", i/10, i%10)
		if _, err := r.dir.PutTerminal(ctx, fleet.Terminal{Name: name, Site: "North", Ward: fmt.Sprint(i / 10)}, "it"); err != nil {
			b.Fatal(err)
		}
		hb, _ := fleet.EncodeHeartbeat(fleet.Heartbeat{Revision: 1, At: time.Now()})
		seen, _ := fleet.EncodeSeen(fleet.Seen{CredentialID: []byte{byte(i)}, Counter: 1, At: time.Now()})
		for k, v := range map[string][]byte{fleet.HeartbeatKey(name): hb, fleet.SeenKey(name, []byte{1}): seen, fleet.SeenKey(name, []byte{2}): seen} {
			if _, err := r.dir.Client.Put(ctx, k, string(v)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range 1000 {
		u := store.User{ID: fmt.Appendf(nil, "u-%05d", i), Name: fmt.Sprintf("person%d", i), State: store.UserActive}
		if _, err := r.dir.PutUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	cl := r.as(b, "alice", fleetapi.RoleAuditor)
	for _, cmd := range []string{fleetapi.CmdTerminalsList, admin.CmdUsersList, fleetapi.CmdWhoAmI} {
		b.Run(cmd, func(b *testing.B) {
			var d []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := cl.Call(ctx, cmd, nil, nil); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
