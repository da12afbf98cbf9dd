package engine

import (
	"time"

	"passkiosk/kiosk/policy"
)

// failures counts failed attempts over a sliding window, per subject (a
// person, a key whose owner is not known yet, or enrollment-code guesses;
// see ceremony.subject) and for the whole terminal, and derives the
// backoff.
type failures struct {
	pol       policy.Lockout
	bySubject map[string][]time.Time
	terminal  []time.Time
	spiked    time.Time // last spike raised, so one burst raises one event
}

func newFailures(p policy.Lockout) *failures {
	return &failures{pol: p, bySubject: map[string][]time.Time{}}
}

func (f *failures) prune(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= f.pol.Window {
		i++
	}
	return ts[i:]
}

// seed takes failures remembered from before a restart.
func (f *failures) seed(history map[string][]time.Time, now time.Time) {
	for subject, ts := range history {
		if ts = f.prune(ts, now); len(ts) > 0 {
			f.bySubject[subject] = ts
		}
	}
}

// add records a failure and reports whether the terminal just crossed the
// spike threshold.
func (f *failures) add(subject string, now time.Time) (spike bool) {
	f.terminal = append(f.prune(f.terminal, now), now)
	if subject != "" { // "": the terminal's count only (ceremony.subject)
		f.bySubject[subject] = append(f.prune(f.bySubject[subject], now), now)
	}
	if f.pol.Spike > 0 && len(f.terminal) >= f.pol.Spike && now.Sub(f.spiked) >= f.pol.Window {
		f.spiked = now
		return true
	}
	return false
}

// blockedUntil is when the subject may try again, or zero.
func (f *failures) blockedUntil(subject string, now time.Time) time.Time {
	ts := f.prune(f.bySubject[subject], now)
	f.bySubject[subject] = ts
	over := len(ts) - f.pol.MaxFailures
	if over < 0 {
		return time.Time{}
	}
	d := f.pol.Backoff
	for i := 0; i < over && d < f.pol.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, f.pol.MaxBackoff)
	until := ts[len(ts)-1].Add(d)
	if !now.Before(until) {
		return time.Time{}
	}
	return until
}

// reset forgets a subject's failures after a successful sign-in.
func (f *failures) reset(subject string) { delete(f.bySubject, subject) }
