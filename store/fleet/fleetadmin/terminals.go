package fleetadmin

import (
	"maps"
	"slices"
	"strings"

	"passkiosk/kiosk"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet"
)

// health says how a terminal stands: silent when its heartbeat is gone
// (its lease ran out), out of service when it says it signs no one in,
// offline when its agent says the cluster does not answer it, behind
// when its copy is older than the directory.
func health(t fleetapi.Terminal, rev int64, st fleet.TermState) string {
	switch {
	case t.LastHeartbeat.IsZero():
		return "silent"
	case st.OutOfService != "":
		return "out of service: " + st.OutOfService
	case !t.OfflineSince.IsZero():
		return "offline"
	case t.Applied < rev:
		return "behind"
	}
	return "ok"
}

func (c *call) terminalsList([]byte) (any, error) {
	inv, err := c.s.o.Dir.Terminals(c.ctx)
	if err != nil {
		return nil, err
	}
	rev, err := c.s.o.Dir.Revision(c.ctx)
	if err != nil {
		return nil, err
	}
	beats, err := c.s.o.Dir.TermRecords(c.ctx, "heartbeat")
	if err != nil {
		return nil, err
	}
	byName := map[string]*fleetapi.Terminal{}
	for _, t := range inv {
		byName[t.Name] = &fleetapi.Terminal{Name: t.Name, Site: t.Site, Ward: t.Ward, Labels: t.Labels,
			Updated: t.Updated, UpdatedBy: t.UpdatedBy, Inventory: true}
	}
	for _, b := range beats {
		if b.Value == nil {
			continue
		}
		h, err := fleet.DecodeHeartbeat(b.Value)
		if err != nil {
			return nil, kiosk.Errorf(kiosk.KindMalformed, "list terminals", "%s: %v", b.Key, err)
		}
		t := byName[b.Terminal]
		if t == nil {
			t = &fleetapi.Terminal{Name: b.Terminal}
			byName[b.Terminal] = t
		}
		t.LastHeartbeat, t.Applied, t.OfflineSince = h.At, h.Revision, h.OfflineSince
	}
	states, err := c.states()
	if err != nil {
		return nil, err
	}
	out := fleetapi.TerminalList{Revision: rev, Terminals: []fleetapi.Terminal{}}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		t := byName[name]
		t.Health, t.Version = health(*t, rev, states[name]), states[name].Build
		out.Terminals = append(out.Terminals, *t)
	}
	return out, nil
}

func (c *call) terminalsSet(b []byte) (any, error) {
	var a fleetapi.TerminalSetArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	if err := fleet.ValidTerminalName(a.Name); err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "set terminal", err)
	}
	inv, err := c.s.o.Dir.Terminals(c.ctx)
	if err != nil {
		return nil, err
	}
	t := fleet.Terminal{Name: a.Name}
	if i := slices.IndexFunc(inv, func(x fleet.Terminal) bool { return x.Name == a.Name }); i >= 0 {
		t = inv[i]
	}
	if a.Site != nil {
		t.Site = strings.TrimSpace(*a.Site)
	}
	if a.Ward != nil {
		t.Ward = strings.TrimSpace(*a.Ward)
	}
	t.Labels = maps.Clone(t.Labels)
	for k, v := range a.Labels {
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		if v == "" {
			delete(t.Labels, k)
		} else {
			t.Labels[k] = v
		}
	}
	rev, err := c.s.o.Dir.PutTerminal(c.ctx, t, c.who)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.TerminalKey(t.Name), rev, "site", t.Site, "ward", t.Ward)
	return fleetapi.Terminal{Name: t.Name, Site: t.Site, Ward: t.Ward, Labels: t.Labels, UpdatedBy: c.who, Inventory: true}, nil
}
