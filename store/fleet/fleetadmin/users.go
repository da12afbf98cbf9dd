package fleetadmin

import (
	"encoding/hex"
	"slices"
	"strings"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/storeport"
)

// findUser is the person ref names: their sign-in name, hex ID or
// readable ID.
func findUser(us []fleet.UserRecord, ref string) (fleet.UserRecord, error) {
	for _, u := range us {
		if u.Name == ref || hex.EncodeToString(u.ID) == ref || kiosk.ReadableID(u.ID) == ref {
			return u, nil
		}
	}
	return fleet.UserRecord{}, kiosk.Errorf(kiosk.KindNotFound, "fleet admin", "no user %q in the fleet's directory", ref)
}

// userArg is the person a command's admin.UserRef names.
func (c *call) userArg(b []byte) (fleet.UserRecord, error) {
	var a admin.UserRef
	if err := decodeArgs(b, &a); err != nil {
		return fleet.UserRecord{}, err
	}
	return c.user(a.User)
}

func (c *call) user(ref string) (fleet.UserRecord, error) {
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return fleet.UserRecord{}, err
	}
	return findUser(us, ref)
}

func (c *call) usersList([]byte) (any, error) {
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.User, len(us))
	for i, u := range us {
		out[i] = storeport.AdminUser(u.User)
	}
	return out, nil
}

func (c *call) usersShow(b []byte) (any, error) {
	u, err := c.userArg(b)
	if err != nil {
		return nil, err
	}
	creds, err := c.credentialsOf(u.ID)
	if err != nil {
		return nil, err
	}
	codes, err := c.codes(u.ID)
	if err != nil {
		return nil, err
	}
	return admin.UserDetail{User: storeport.AdminUser(u.User), Credentials: creds, Codes: codes}, nil
}

// validName is a sign-in name the appliance accepts too.
func validName(s string) bool {
	return len(s) > 0 && len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_", r))
	})
}

func (c *call) usersAdd(b []byte) (any, error) {
	var a admin.UserAddArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	if !validName(a.Name) {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "add user", "user name %q: use 1 to 64 of a-z, 0-9, '.', '-' and '_'", a.Name)
	}
	if err := c.checkGroups(a.Groups, a.Force); err != nil {
		return nil, err
	}
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(us, func(u fleet.UserRecord) bool { return u.Name == a.Name }) {
		return nil, kiosk.Errorf(kiosk.KindConflict, "add user", "the fleet has a user named %q already", a.Name)
	}
	hexID, err := admin.NewUserID(func(h string) bool {
		return slices.ContainsFunc(us, func(u fleet.UserRecord) bool { return hex.EncodeToString(u.ID) == h })
	})
	if err != nil {
		return nil, err
	}
	id, _ := hex.DecodeString(hexID)
	u := store.User{ID: id, Name: a.Name, DisplayName: cmpOr(a.DisplayName, a.Name), Groups: a.Groups, State: store.UserActive}
	rev, err := c.s.o.Dir.PutUserBy(c.ctx, u, c.who)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.UserKey(id), rev, "name", u.Name)
	return storeport.AdminUser(u), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkGroups refuses, unless force, groups the fleet's policy does not
// name: a typo would otherwise give the person the default rules.
func (c *call) checkGroups(groups []string, force bool) error {
	if force || len(groups) == 0 {
		return nil
	}
	p := policy.Default()
	sp, err := c.s.o.Dir.Policy(c.ctx)
	if err != nil {
		return err
	}
	if sp.Version > 0 {
		if p, err = config.DecodeStoredPolicy(sp.Version, sp.Schema, sp.Data); err != nil {
			return err
		}
	}
	known := append(slices.Clone(p.Platform.Groups), p.Roaming.Groups...)
	for _, g := range p.Groups {
		known = append(known, g.Group)
	}
	for _, g := range groups {
		if !slices.Contains(known, g) {
			return kiosk.Errorf(kiosk.KindPolicy, "add user", "group %q is not named by the fleet's policy (version %d; it names %s): fix the name or add --force", g, sp.Version, strings.Join(known, ", "))
		}
	}
	return nil
}

func (c *call) userState(b []byte, state string) (any, error) {
	u, err := c.userArg(b)
	if err != nil {
		return nil, err
	}
	st := store.UserActive
	if state == "disabled" {
		st = store.UserDisabled
	}
	rev, err := c.s.o.Dir.SetUserState(c.ctx, u.ID, st, c.who)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.UserKey(u.ID), rev, "name", u.Name, "state", state)
	u.State = st
	return storeport.AdminUser(u.User), nil
}
