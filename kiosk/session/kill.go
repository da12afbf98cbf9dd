package session

import (
	"fmt"
	"slices"
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
func (kr killResult) tally(op string, r *kiosk.WipeReport) error {
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
	if grace > 0 {
		r.terminated = terminateProcesses(m, groups, spare, seen)
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
		killProcesses(groups, left, killed, seen)
		waitGone(m, 200*time.Millisecond)
	}
	r.killed = len(killed)
	r.stopped = len(seen)
	r.remaining = len(r.left)
	return r
}

// terminateProcesses sends SIGTERM to the groups and to every process m
// lists that is not spared, marks those seen, and returns how many it asked
// to end.
func terminateProcesses(m member, groups []int, spare, seen map[int]bool) int {
	listed := m.scan()
	// The group signal also reaches members the scan could not list yet
	// (a fork in flight).
	signalGroups(groups, unix.SIGTERM)
	n := 0
	for _, p := range listed {
		if spare[p.pid] {
			continue
		}
		n++
		seen[p.pid] = true
		if !slices.Contains(groups, p.pgid) {
			_ = unix.Kill(p.pid, unix.SIGTERM)
		}
	}
	return n
}

// killProcesses sends SIGKILL to the groups, then stops the processes left
// and kills them, and marks those it killed in killed and seen.
func killProcesses(groups []int, left []proc, killed, seen map[int]bool) {
	signalGroups(groups, unix.SIGKILL)
	// Stop first, then kill: a stopped process cannot fork while its
	// siblings are being killed.
	for _, p := range left {
		_ = unix.Kill(p.pid, unix.SIGSTOP)
	}
	for _, p := range left {
		if unix.Kill(p.pid, unix.SIGKILL) == nil && !killed[p.pid] {
			killed[p.pid] = true
			seen[p.pid] = true
		}
	}
}

func signalGroups(groups []int, sig unix.Signal) {
	for _, g := range groups {
		_ = unix.Kill(-g, sig)
	}
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
