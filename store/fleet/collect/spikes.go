package collect

import (
	"slices"
	"sync"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
)

// Thresholds say when failed sign-ins across the fleet are a spike. Each
// counts the failures (or, for a person, the terminals) in the Window
// that ends at a failure's own time, so entries that arrive late after an
// outage count where they happened. A zero threshold turns its check off.
type Thresholds struct {
	// Window is how far back a count reaches; 0 means 10 minutes.
	Window time.Duration
	// PersonTerminals: one person failing at this many different
	// terminals (someone trying a stolen key or PIN around the ward).
	PersonTerminals int
	// TerminalFailures: this many failures at one terminal.
	TerminalFailures int
	// SiteFailures: this many failures across one site's terminals
	// (the site from IT's dir/terminals/<name> record).
	SiteFailures int
	// Failed says which entries count; nil means failed sign-ins
	// (kiosk.EventSignInFailed).
	Failed func(kiosk.Event) bool
}

// DefaultThresholds are a starting point for a hospital.
var DefaultThresholds = Thresholds{Window: 10 * time.Minute, PersonTerminals: 3, TerminalFailures: 10, SiteFailures: 30}

// Spike is one crossed threshold.
type Spike struct {
	By        string    // "person", "terminal" or "site"
	Key       string    // the person (user ID, or sign-in name), terminal or site
	Failures  int       // failures in the window
	Terminals []string  // the terminals they happened at
	From, To  time.Time // the window
}

// spikes counts failures per person, terminal and site.
type spikes struct {
	th Thresholds

	mu   sync.Mutex
	wins map[string]*window // by "person/"+key, "terminal/"+key, "site/"+key
}

type failure struct {
	at       time.Time
	terminal string
}

type window struct {
	fails     []failure // sorted by time
	newest    time.Time
	lastAlarm time.Time
}

func newSpikes(th Thresholds) *spikes {
	if th.Window <= 0 {
		th.Window = 10 * time.Minute
	}
	if th.Failed == nil {
		th.Failed = func(e kiosk.Event) bool { return e == kiosk.EventSignInFailed }
	}
	return &spikes{th: th, wins: map[string]*window{}}
}

// person is who a failure is counted against: the user ID when the
// entry names one, else the sign-in name, else the engine's subject.
func person(w *auditfile.Wire) string {
	switch {
	case len(w.UserID) > 0:
		return kiosk.ReadableID(w.UserID)
	case w.UserName != "":
		return w.UserName
	}
	return w.Detail["subject"]
}

// add counts an archived entry and returns the thresholds it crossed.
func (s *spikes) add(terminal, site string, w *auditfile.Wire) []Spike {
	if !s.th.Failed(w.Type) {
		return nil
	}
	at := w.When()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Spike
	check := func(by, key string, limit int, distinct bool) {
		if key == "" || limit <= 0 {
			return
		}
		win := s.wins[by+"/"+key]
		if win == nil {
			win = &window{}
			s.wins[by+"/"+key] = win
		}
		if sp, ok := win.add(failure{at, terminal}, s.th.Window, limit, distinct); ok {
			sp.By, sp.Key = by, key
			out = append(out, sp)
		}
	}
	check("person", person(w), s.th.PersonTerminals, true)
	check("terminal", terminal, s.th.TerminalFailures, false)
	check("site", site, s.th.SiteFailures, false)
	return out
}

// add puts f in the window and reports a spike when a window of width
// that holds f (one ending at f or at a later failure) holds limit
// failures (distinct: at limit terminals). At most one spike is reported
// per width of time.
func (w *window) add(f failure, width time.Duration, limit int, distinct bool) (Spike, bool) {
	i, _ := slices.BinarySearchFunc(w.fails, f.at, func(a failure, t time.Time) int { return a.at.Compare(t) })
	w.fails = slices.Insert(w.fails, i, f)
	if f.at.After(w.newest) {
		w.newest = f.at
	}
	// Forget what no window ending at a future failure can reach.
	cut := 0
	for cut < len(w.fails) && w.newest.Sub(w.fails[cut].at) > width {
		cut++
	}
	w.fails = w.fails[cut:]
	for _, end := range w.fails {
		if end.at.Before(f.at) || end.at.Sub(f.at) > width {
			continue
		}
		sp, n := w.count(end.at.Add(-width), end.at, distinct)
		if n < limit {
			continue
		}
		if !w.lastAlarm.IsZero() && absDiff(end.at, w.lastAlarm) < width {
			return Spike{}, false
		}
		w.lastAlarm = end.at
		return sp, true
	}
	return Spike{}, false
}

// count is the window [from, to]: its failures and its count (distinct:
// of terminals).
func (w *window) count(from, to time.Time, distinct bool) (Spike, int) {
	sp := Spike{From: from, To: to}
	terms := map[string]bool{}
	for _, g := range w.fails {
		if g.at.Before(from) || g.at.After(to) {
			continue
		}
		sp.Failures++
		if !terms[g.terminal] {
			terms[g.terminal] = true
			sp.Terminals = append(sp.Terminals, g.terminal)
		}
	}
	slices.Sort(sp.Terminals)
	if distinct {
		return sp, len(sp.Terminals)
	}
	return sp, sp.Failures
}

func absDiff(a, b time.Time) time.Duration {
	if d := a.Sub(b); d >= 0 {
		return d
	}
	return b.Sub(a)
}
