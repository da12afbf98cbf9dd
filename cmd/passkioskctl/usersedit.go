package main

import (
	"flag"
	"fmt"
	"strings"

	"passkiosk/kiosk/admin"
)

// splitGroups reads --groups a,b.
func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// usersEdit changes a person's display name, groups or state; their
// passkeys and codes stay.
func (e *env) usersEdit(fs *flag.FlagSet, args []string) error {
	display := fs.String("display-name", "", "name shown on screen")
	groups := fs.String("groups", "", "comma-separated groups, replacing the current ones (\"\" for none)")
	enable := fs.Bool("enable", false, "let the person sign in again")
	disable := fs.Bool("disable", false, "stop the person from signing in")
	force := fs.Bool("force", false, "accept groups the policy in force does not name")
	const usage = "users edit USER [--display-name TEXT] [--groups a,b] [--enable | --disable] [--force]"
	pos, err := e.parse(fs, args, 1, 1, usage)
	if err != nil {
		return err
	}
	a := admin.UserEditArgs{User: pos[0], Force: *force}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "display-name":
			a.DisplayName = display
		case "groups":
			g := splitGroups(*groups)
			if g == nil {
				g = []string{}
			}
			a.Groups = &g
		}
	})
	switch {
	case *enable && *disable:
		return usagef("--enable and --disable together\nusage: passkioskctl %s", usage)
	case *enable:
		a.State = "active"
	case *disable:
		a.State = "disabled"
	}
	if a.DisplayName == nil && a.Groups == nil && a.State == "" {
		return usagef("nothing to change\nusage: passkioskctl %s", usage)
	}
	var u admin.User
	if err := e.call(admin.CmdUsersEdit, a, &u); err != nil {
		return err
	}
	return e.emit(u, func() {
		fmt.Fprintf(e.stdout, "changed %s: display name %q, groups %s, %s; passkeys kept\n",
			u.Name, u.DisplayName, orDash(strings.Join(u.Groups, ",")), u.State)
	})
}

// confirmRemove asks before removing a person, saying what goes with
// them.
func (e *env) confirmRemove(ref string, yes bool) error {
	if yes {
		return nil
	}
	q := fmt.Sprintf("Remove %s with their passkeys and unused codes? This cannot be undone.", ref)
	if isTerminal(stdin) {
		var d admin.UserDetail
		if err := e.call(admin.CmdUsersShow, admin.UserRef{User: ref}, &d); err != nil {
			return err
		}
		q = fmt.Sprintf("Remove %s (%s) with their %d passkey(s) and %d code(s)? This cannot be undone.",
			d.User.Name, d.User.DisplayName, len(d.Credentials), len(d.Codes))
	}
	return e.confirm(false, "users remove", q)
}

// confirmRevoke asks before revoking a credential, naming it.
func (e *env) confirmRevoke(ref string, yes bool) error {
	if yes {
		return nil
	}
	q := fmt.Sprintf("Revoke credential %s? Its holder can no longer sign in with it.", ref)
	if isTerminal(stdin) {
		var all []admin.Credential
		if err := e.call(admin.CmdCredentialsList, admin.CredentialsListArgs{}, &all); err == nil {
			var match []admin.Credential
			for _, c := range all {
				if strings.HasPrefix(c.ID, strings.ToLower(ref)) {
					match = append(match, c)
				}
			}
			if len(match) == 1 {
				c := match[0]
				q = fmt.Sprintf("Revoke %s's %s credential %s (%s, last used %s)? They can no longer sign in with it.",
					c.UserName, c.Kind, short(c.ID), orDash(c.Label), when(c.LastUsed, "never"))
			}
		}
	}
	return e.confirm(false, "credentials revoke", q)
}

// confirmApply shows what applying a would change and asks; on yes, a is
// set to apply exactly the reviewed change (its base is the version the
// diff was made against). done says there is nothing left to do.
func (e *env) confirmApply(a *admin.PolicyApplyArgs, yes bool) (done bool, err error) {
	if yes {
		return false, nil
	}
	if !isTerminal(stdin) {
		return true, e.confirm(false, "policy apply", "")
	}
	dry := *a
	dry.DryRun = true
	var r admin.PolicyApplied
	if err := e.call(admin.CmdPolicyApply, dry, &r); err != nil {
		return true, err
	}
	if !r.Changed {
		return false, nil
	}
	printDiff(e.stderr, r.Diff)
	if err := e.confirm(false, "policy apply", fmt.Sprintf("Apply this as the policy in force (replacing version %d)?", r.Previous)); err != nil {
		return true, err
	}
	if a.Base == 0 {
		// Apply against the version reviewed, so a change made meanwhile
		// is a conflict. Version 0, the built-in default, cannot be
		// named (0 means any); the store's own check covers it.
		a.Base = r.Previous
	}
	return false, nil
}
