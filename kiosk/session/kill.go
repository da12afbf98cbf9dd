package session

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk"
)

// killResult counts what stopProcesses did and found.
type killResult struct {
	stopped, terminated, killed, remaining int
	left                                   []proc
}

// tally puts what stopProcesses did into r, and says which processes
// survived SIGKILL, if any did.
func (kr killResult) tally(op string, r *WipeReport) error {
	r.Processes, r.Terminated, r.Killed, r.Remaining = kr.stopped, kr.terminated, kr.killed, kr.remaining
	if kr.remaining > 0 {
		return kiosk.Errorf(kiosk.KindTimeout, op, "%d processes survived SIGKILL:%s", kr.remaining, describe(kr.left))
	}
	return nil
}

// stopProcesses ends every process that m recognises: SIGTERM first to
// all but the spared ones (the sandbox's own supervisors, whose death
// would SIGKILL the rest before they had their grace period), a grace
// period, then SIGKILL to everything still there, repeated until a scan
// finds nothing or killTimeout runs out. The final scan is the check: its
// count is reported, never assumed.
func stopProcesses(m member, groups []int, spare map[int]bool, grace, killTimeout time.Duration) killResult {
	var r killResult
	seen := map[int]bool{}
	inGroup := func(p proc) bool {
		for _, g := range groups {
			if p.pgid == g {
				return true
			}
		}
		return false
	}
	if grace > 0 {
		listed := m.scan()
		for _, g := range groups {
			// The group signal also reaches members the scan could
			// not list yet (a fork in flight).
			_ = unix.Kill(-g, unix.SIGTERM)
		}
		for _, p := range listed {
			if spare[p.pid] {
				continue
			}
			r.terminated++
			seen[p.pid] = true
			if !inGroup(p) {
				_ = unix.Kill(p.pid, unix.SIGTERM)
			}
		}
		if r.terminated > 0 {
			waitGone(m, grace)
		}
	}
	killed := map[int]bool{}
	deadline := time.Now().Add(killTimeout)
	for {
		left := m.scan()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.left = left
			break
		}
		for _, g := range groups {
			_ = unix.Kill(-g, unix.SIGKILL)
		}
		// Stop first, then kill: a stopped process cannot fork while
		// its siblings are being killed.
		for _, p := range left {
			_ = unix.Kill(p.pid, unix.SIGSTOP)
		}
		for _, p := range left {
			if unix.Kill(p.pid, unix.SIGKILL) == nil && !killed[p.pid] {
				killed[p.pid] = true
				seen[p.pid] = true
			}
		}
		waitGone(m, 200*time.Millisecond)
	}
	r.killed = len(killed)
	r.stopped = len(seen)
	r.remaining = len(r.left)
	return r
}

// waitGone polls until m finds no process or d has passed.
func waitGone(m member, d time.Duration) {
	deadline := time.Now().Add(d)
	for step := time.Millisecond; ; step = min(2*step, 20*time.Millisecond) {
		if len(m.scan()) == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(step)
	}
}

func describe(ps []proc) string {
	s := ""
	for i, p := range ps {
		if i == 8 {
			return s + fmt.Sprintf(" … (%d more)", len(ps)-i)
		}
		s += fmt.Sprintf(" %d(%s)", p.pid, p.comm)
	}
	return s
}
