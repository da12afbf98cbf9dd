package appliance

import (
	"passkiosk/kiosk/policy"
)

// place is where this terminal stands, for the policy's place rules: the
// directory's inventory record for it as the mirror last saw it (so the
// last known place holds offline and across restarts), or home (the
// configuration's [place]) on a terminal on its own or while the
// directory has no record for it.
func (l *fleetLink) place(home policy.Place) policy.Place {
	if l == nil {
		return home
	}
	p, ok, err := l.db.MirrorPlace()
	if err != nil {
		l.log.Error("fleet: this terminal's place could not be read; using the configuration's", "err", err)
		return home
	}
	if !ok {
		return home
	}
	return policy.Place{Site: p.Site, Ward: p.Ward, Labels: p.Labels}
}
