package admin

import (
	"slices"
	"strconv"
	"strings"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/policy"
)

// CmdUsersEdit changes a person's groups, display name or state, keeping
// their credentials.
const CmdUsersEdit = "users.edit"

// UserEditArgs changes a user. Nil fields stay as they are; State is
// "", "active" or "disabled". Force accepts groups the policy does not
// name.
type UserEditArgs struct {
	User        string    `json:"user"`
	DisplayName *string   `json:"display_name,omitempty"`
	Groups      *[]string `json:"groups,omitempty"`
	State       string    `json:"state,omitempty"`
	Force       bool      `json:"force,omitempty"`
}

// policyGroups are the groups the policy in force names: those with
// rules of their own and the pilot groups of each method. A person in
// none of them gets the default rules. The policy in force is the newest
// applied version, else the engine's (the configuration's policy file or
// the built-in default), as the appliance loads it; version 0 means none
// was applied yet.
func (c *call) policyGroups() (version uint64, groups []string, err error) {
	p := policy.Default()
	sp, err := c.s.opts.Store.Policy()
	switch {
	case kiosk.KindOf(err) == kiosk.KindNotFound:
		if e, ok := c.s.opts.Appliance.(interface{ Policy() policy.Policy }); ok {
			p = e.Policy()
		}
	case err != nil:
		return 0, nil, err
	default:
		if p, err = config.DecodeStoredPolicy(sp.Version, sp.Schema, sp.Data); err != nil {
			return 0, nil, err
		}
		version = sp.Version
	}
	for _, g := range p.Groups {
		groups = append(groups, g.Group)
	}
	groups = append(groups, p.Platform.Groups...)
	groups = append(groups, p.Roaming.Groups...)
	slices.Sort(groups)
	return version, slices.Compact(groups), nil
}

// checkGroups refuses groups that are malformed or, unless force, that
// the policy in force does not name: a typo ("nursse") would otherwise
// quietly give the person the default rules.
func (c *call) checkGroups(groups []string, force bool) error {
	for _, g := range groups {
		if !validName(g) {
			return invalid("group %q: use 1 to 64 of a-z, 0-9, '.', '-' and '_'", g)
		}
	}
	if force || len(groups) == 0 {
		return nil
	}
	version, known, err := c.policyGroups()
	if err != nil {
		return err
	}
	var unknown []string
	for _, g := range groups {
		if !slices.Contains(known, g) {
			unknown = append(unknown, g)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	which := "the policy in force (none applied with passkioskctl yet)"
	if version != 0 {
		which = "policy version " + strconv.FormatUint(version, 10)
	}
	names := "none"
	if len(known) > 0 {
		names = strings.Join(known, ", ")
	}
	return invalid("%s names no group %s: the person would get the default rules; the policy's groups: %s (add the group to the policy first, or give --force)",
		which, quoteAll(unknown), names)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = `"` + s + `"`
	}
	return strings.Join(q, ", ")
}

func (c *call) usersEdit() (any, error) {
	var a UserEditArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	u, err := c.findUser(a.User)
	if err != nil {
		return nil, err
	}
	changed := map[string]string{}
	if a.DisplayName != nil {
		if strings.TrimSpace(*a.DisplayName) == "" {
			return nil, invalid("a display name cannot be empty")
		}
		u.DisplayName = *a.DisplayName
		changed["display-name"] = u.DisplayName
	}
	if a.Groups != nil {
		if err := c.checkGroups(*a.Groups, a.Force); err != nil {
			return nil, err
		}
		u.Groups = append([]string{}, *a.Groups...)
		changed["groups"] = strings.Join(u.Groups, ",")
	}
	switch a.State {
	case "":
	case "active", "disabled":
		u.State = a.State
		changed["state"] = a.State
	default:
		return nil, invalid("state %q: use active or disabled", a.State)
	}
	if len(changed) == 0 {
		return nil, invalid("nothing to change: give --display-name, --groups, --enable or --disable")
	}
	// PutUser replaces the user record alone: credentials and codes are
	// kept under the same ID.
	if err := c.s.opts.Store.PutUser(u, c.peer.change(changed)); err != nil {
		return nil, err
	}
	return c.findUser(u.ID)
}
