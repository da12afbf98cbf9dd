package session_test

import (
	"passkiosk/kiosk"

	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"passkiosk/kiosk/session"
)

// BenchmarkStartToProgramRunning measures the session half of "verified
// assertion to session program started": from the Start call (journal
// record, workspace, sandbox) until the program has run far enough to
// write a line to a pipe.
func BenchmarkStartToProgramRunning(b *testing.B) {
	for _, tc := range []struct {
		name    string
		sb      session.Sandbox
		noTmpfs bool
	}{
		{"bubblewrap/tmpfs", session.SandboxBubblewrap, false},
		{"bubblewrap/disk", session.SandboxBubblewrap, true},
		{"none/tmpfs", session.SandboxNone, false},
		{"none/disk", session.SandboxNone, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, _ := newManager(b, tc.sb, testUID, func(c *session.Config) { c.NoTmpfs = tc.noTmpfs })
			spec := session.Spec{User: "bench", Program: []string{"/bin/sh", "-c", "echo ready; exec sleep 300"}}
			for b.Loop() {
				s := startWaitReady(b, m, spec)
				b.StopTimer()
				if _, err := s.End(kiosk.EndLogout); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkEndWith10000Files measures logout to "wipe verified" with a
// workspace holding 10,000 files of 1 KiB in 100 folders: killing the
// program, the process check, counting, removal and the final lstat.
func BenchmarkEndWith10000Files(b *testing.B) {
	for _, tc := range []struct {
		name    string
		noTmpfs bool
	}{{"tmpfs", false}, {"disk", true}} {
		b.Run(tc.name, func(b *testing.B) {
			m, _ := newManager(b, session.SandboxNone, testUID, func(c *session.Config) { c.NoTmpfs = tc.noTmpfs })
			payload := make([]byte, 1024)
			var kill, wipe time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				s, err := m.Start(b.Context(), session.Spec{User: "bench", Program: []string{"/bin/sleep", "300"}})
				if err != nil {
					b.Fatal(err)
				}
				fill(b, s.Workspace, payload)
				b.StartTimer()
				r, err := s.End(kiosk.EndLogout)
				if err != nil || r.Files != 10000 || !r.Clean() {
					b.Fatalf("End = %+v, %v", r, err)
				}
				kill += r.KillTime
				wipe += r.WipeTime
				n++
			}
			b.ReportMetric(float64(kill.Microseconds())/float64(n)/1000, "kill-ms/op")
			b.ReportMetric(float64(wipe.Microseconds())/float64(n)/1000, "wipe-ms/op")
		})
	}
}

func fill(b *testing.B, ws string, payload []byte) {
	for d := range 100 {
		dir := filepath.Join(ws, "cache", strconv.Itoa(d))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(f)), payload, 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
}
