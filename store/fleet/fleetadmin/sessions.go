package fleetadmin

import (
	"bytes"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet"
)

// states reads what every terminal published about itself, by name.
func (c *call) states() (map[string]fleet.TermState, error) {
	recs, err := c.s.o.Dir.TermRecords(c.ctx, "state")
	if err != nil {
		return nil, err
	}
	out := map[string]fleet.TermState{}
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		st, err := fleet.DecodeTermState(r.Value)
		if err != nil {
			return nil, kiosk.Errorf(kiosk.KindMalformed, "fleet sessions", "%s: %v", r.Key, err)
		}
		out[r.Terminal] = st
	}
	return out, nil
}

func (c *call) sessionsList([]byte) (any, error) {
	states, err := c.states()
	if err != nil {
		return nil, err
	}
	beats, err := c.s.o.Dir.TermRecords(c.ctx, "heartbeat")
	if err != nil {
		return nil, err
	}
	alive := map[string]bool{}
	for _, b := range beats {
		alive[b.Terminal] = b.Value != nil
	}
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return nil, err
	}
	out := []fleetapi.FleetSession{}
	for _, name := range slices.Sorted(maps.Keys(states)) {
		s := states[name].Session
		if s == nil {
			continue
		}
		fs := fleetapi.FleetSession{Terminal: name, UserID: hex.EncodeToString(s.UserID), DisplayName: s.DisplayName,
			Started: s.Started, EndsAt: s.EndsAt, Silent: !alive[name]}
		if u, err := findUser(us, fs.UserID); err == nil {
			fs.UserName = u.Name
		}
		out = append(out, fs)
	}
	return out, nil
}

// endWait bounds how long sessions end waits for the terminal's answer.
const endWait = 10 * time.Second

// sessionsEnd asks a terminal to end its session and waits for its
// answer: the terminal's engine ends and audits the session, and the
// terminal audits the request with the administrator's name.
func (c *call) sessionsEnd(b []byte) (any, error) {
	const op = "end fleet session"
	var a fleetapi.SessionEndArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	if err := fleet.ValidTerminalName(a.Terminal); err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, op, err)
	}
	states, err := c.states()
	if err != nil {
		return nil, err
	}
	s := states[a.Terminal].Session
	if s == nil {
		return nil, kiosk.Errorf(kiosk.KindNotFound, op, "no session is in progress at %s", a.Terminal)
	}
	res := fleetapi.SessionEnded{Terminal: a.Terminal, UserID: hex.EncodeToString(s.UserID)}
	if u, err := c.user(res.UserID); err == nil {
		res.UserName = u.Name
	}
	if a.User != "" && a.User != res.UserName && a.User != res.UserID && a.User != kiosk.ReadableID(s.UserID) {
		return nil, kiosk.Errorf(kiosk.KindConflict, op, "the session at %s is %s's, not %s's", a.Terminal, orDash(res.UserName), a.User)
	}
	id, err := c.s.o.Dir.RequestEnd(c.ctx, a.Terminal, s.UserID, c.who)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.EndKey(a.Terminal), 0, "user", res.UserName)
	return res, c.awaitEnd(a.Terminal, id)
}

// awaitEnd waits for the terminal's answer to request id.
func (c *call) awaitEnd(terminal string, id []byte) error {
	const op = "end fleet session"
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	give := time.After(endWait)
	for {
		select {
		case <-c.ctx.Done():
			return kiosk.E(kiosk.KindTimeout, op, c.ctx.Err())
		case <-give:
			return kiosk.Errorf(kiosk.KindTimeout, op, "%s did not answer within %s (is it silent? see terminals list); the request stands for %s more", terminal, endWait, fleet.EndRequestTTL-endWait)
		case <-tick.C:
		}
		states, err := c.states()
		if err != nil {
			return err
		}
		if st := states[terminal]; bytes.Equal(st.LastEnd, id) {
			if !st.Ended {
				return kiosk.Errorf(kiosk.KindConflict, op, "%s did not end the session: it had ended or changed meanwhile (sessions list)", terminal)
			}
			c.s.log.Info("fleet admin: session ended", "admin", c.who, "terminal", terminal)
			return nil
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
