package fleetadmin

import (
	"encoding/hex"
	"slices"
	"strings"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/storeport"
)

// usersEdit changes a person's display name, groups or state, keeping
// their passkeys.
func (c *call) usersEdit(b []byte) (any, error) {
	var a admin.UserEditArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	states := map[string]store.UserState{"active": store.UserActive, "disabled": store.UserDisabled}
	st, ok := states[a.State]
	if a.State != "" && !ok {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "edit user", "state %q: active or disabled", a.State)
	}
	if a.Groups != nil {
		if err := c.checkGroups(*a.Groups, a.Force); err != nil {
			return nil, err
		}
	}
	u, err := c.user(a.User)
	if err != nil {
		return nil, err
	}
	rev, err := c.s.o.Dir.UpdateUser(c.ctx, u.ID, c.who, func(x *store.User) error {
		if a.DisplayName != nil {
			x.DisplayName = strings.TrimSpace(*a.DisplayName)
		}
		if a.Groups != nil {
			x.Groups = slices.Clone(*a.Groups)
		}
		if a.State != "" {
			x.State = st
		}
		u.User = *x
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.changed(fleet.UserKey(u.ID), rev, "name", u.Name)
	return storeport.AdminUser(u.User), nil
}

// usersRemove removes a person with their passkeys and unused codes.
func (c *call) usersRemove(b []byte) (any, error) {
	u, err := c.userArg(b)
	if err != nil {
		return nil, err
	}
	rev, err := c.s.o.Dir.RemoveUser(c.ctx, u.ID, c.who)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.UserKey(u.ID), rev, "name", u.Name, "removed", true)
	return storeport.AdminUser(u.User), nil
}

// codesCancel deletes an unused code named by its ID or first 6+ hex
// digits.
func (c *call) codesCancel(b []byte) (any, error) {
	const op = "cancel code"
	var a admin.IDRef
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	ref := strings.ToLower(a.ID)
	if len(ref) < 6 {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "code %q: give its ID or at least its first 6 hex digits", a.ID)
	}
	codes, err := c.s.o.Dir.Codes(c.ctx)
	if err != nil {
		return nil, err
	}
	var found []fleet.Code
	for _, k := range codes {
		if strings.HasPrefix(hex.EncodeToString(k.ID), ref) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return nil, kiosk.Errorf(kiosk.KindNotFound, op, "%d codes have an ID starting with %s, not one", len(found), ref)
	}
	rev, err := c.s.o.Dir.CancelCode(c.ctx, found[0])
	if err != nil {
		return nil, err
	}
	id := hex.EncodeToString(found[0].ID)
	c.changed(fleet.CodeKey(found[0].Hash), rev, "code", id)
	return admin.IDRef{ID: id}, nil
}
