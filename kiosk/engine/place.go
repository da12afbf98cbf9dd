package engine

import (
	"time"

	"passkiosk/kiosk/policy"
)

// SetPlace tells the engine where the terminal stands now (a fleet
// terminal's inventory record changed). Sign-ins from now on follow the
// place rules that match it; a running session keeps the limits it
// started with, as with a new policy.
func (e *Engine) SetPlace(p policy.Place) {
	e.mu.Lock()
	defer e.unlock()
	e.cfg.Place = p
}

// Place is where the engine believes the terminal stands.
func (e *Engine) Place() policy.Place {
	e.mu.Lock()
	defer e.unlock()
	return e.cfg.Place
}

// rulesLocked are the rules of a person in groups signing in here: their
// group's, narrowed by the place rules that match this terminal.
func (e *Engine) rulesLocked(groups []string) policy.Rules {
	return e.pol.RulesAt(groups, e.cfg.Place)
}

// outOfHoursLocked says why a person in groups may not sign in here at
// t, or "" when they may: their group's hours, or this terminal's place.
func (e *Engine) outOfHoursLocked(groups []string, t time.Time) string {
	switch {
	case !e.pol.RulesFor(groups).AllowedAt(t):
		return "sign-in is not allowed at this hour for your group"
	case !e.rulesLocked(groups).AllowedAt(t):
		return "sign-in is not allowed at this hour on this terminal (" + e.cfg.Place.String() + ")"
	}
	return ""
}

// sessionDetailLocked is a session-opened entry's detail: the session,
// its limit and, when the terminal has one, the place whose rules it
// started under, so the audit trail says which ward's rules applied.
func (e *Engine) sessionDetailLocked(id string, limit time.Duration) map[string]string {
	d := map[string]string{"session": id, "max": limit.String()}
	if p := e.cfg.Place.String(); p != "" {
		d["place"] = p
	}
	return d
}
