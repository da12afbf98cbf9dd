package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
)

func (e *env) status(args []string) error {
	if _, err := e.parse(flag.NewFlagSet("status", flag.ContinueOnError), args, 0, 0, "status"); err != nil {
		return err
	}
	var st admin.Status
	if err := e.call(admin.CmdStatus, nil, &st); err != nil {
		return err
	}
	return e.emit(st, func() {
		w := e.stdout
		fmt.Fprintf(w, "terminal:  %s\n", st.Terminal)
		fmt.Fprintf(w, "version:   %s\n", st.Version)
		fmt.Fprintf(w, "health:    %s\n", st.Health)
		if st.OutOfService != "" {
			fmt.Fprintf(w, "reason:    %s\n", st.OutOfService)
		}
		fmt.Fprintf(w, "state:     %s\n", st.State)
		printTPM(w, st.TPM)
		for _, d := range st.Degraded {
			fmt.Fprintf(w, "degraded:  %s\n", d)
		}
		fmt.Fprintf(w, "keys:      %d plugged\n", len(st.Keys))
		for _, k := range st.Keys {
			fmt.Fprintf(w, "           %s  %s  aaguid %s  pin %s  fingerprint %s\n", k.ID, orDash(k.Product), k.AAGUID, yesNo(k.PIN), yesNo(k.Fingerprint))
		}
		if iso := st.Isolation; iso != nil {
			fmt.Fprintf(w, "sandbox:   %s (%s)\n", iso.Sandbox, orDash(iso.Reason))
			idle := "this window only: input to session programs is not seen"
			if len(iso.Idle) > 0 {
				idle = strings.Join(iso.Idle, ", ")
			}
			fmt.Fprintf(w, "idle from: %s\n", idle)
			if iso.NoWayland != "" {
				fmt.Fprintf(w, "wayland:   not for sessions (%s)\n", iso.NoWayland)
			}
		}
		if st.Session != nil {
			fmt.Fprintf(w, "session:   %s since %s\n", st.Session.DisplayName, when(st.Session.Started, "-"))
		} else {
			fmt.Fprintf(w, "session:   none\n")
		}
		if f := st.Fleet; f != nil {
			printFleet(w, f)
		}
		fmt.Fprintf(w, "policy:    version %d\n", st.PolicyVersion)
		fmt.Fprintf(w, "users:     %d\n", st.Users)
		fmt.Fprintf(w, "audit:     newest entry %d, hash %s\n", st.AuditHead, orDash(short(st.AuditHash)))
	})
}

// printTPM is the status's TPM lines: available or why not, the key
// that signs exports, and the wrong-PIN counter.
func printTPM(w io.Writer, t admin.TPMStatus) {
	if t.Available {
		fmt.Fprintf(w, "tpm:       available\n")
	} else {
		fmt.Fprintf(w, "tpm:       unavailable (%s)\n", orDash(t.Reason))
	}
	if t.SigningKey != "" {
		fmt.Fprintf(w, "tpm key:   %s (signs audit exports)\n", t.SigningKey)
	}
	if l := t.Lockout; l != nil {
		managed := "set by passkiosk"
		if !l.Managed {
			managed = "the chip's own, not managed: " + orDash(l.Reason)
		}
		fmt.Fprintf(w, "tpm pins:  %d of %d wrong, one forgotten every %ds, lockout %s (%s)\n",
			l.Counter, l.Max, l.Interval, yesNo(l.InLockout), managed)
	}
}

func (e *env) usersList(fs *flag.FlagSet, args []string) error {
	if _, err := e.parse(fs, args, 0, 0, "users list"); err != nil {
		return err
	}
	var users []admin.User
	if err := e.call(admin.CmdUsersList, nil, &users); err != nil {
		return err
	}
	return e.emit(users, func() {
		rows := make([][]string, len(users))
		for i, u := range users {
			rows[i] = []string{u.Name, u.DisplayName, orDash(strings.Join(u.Groups, ",")), u.State, admin.ReadableUserID(u.ID), when(u.Created, "-")}
		}
		e.table([]string{"NAME", "DISPLAY NAME", "GROUPS", "STATE", "ID", "CREATED"}, rows)
	})
}

func (e *env) usersShow(fs *flag.FlagSet, args []string) error {
	pos, err := e.parse(fs, args, 1, 1, "users show USER")
	if err != nil {
		return err
	}
	var d admin.UserDetail
	if err := e.call(admin.CmdUsersShow, admin.UserRef{User: pos[0]}, &d); err != nil {
		return err
	}
	return e.emit(d, func() {
		u := d.User
		fmt.Fprintf(e.stdout, "name:          %s\ndisplay name:  %s\nid:            %s\ngroups:        %s\nstate:         %s\ncreated:       %s\n",
			u.Name, u.DisplayName, admin.ReadableUserID(u.ID), orDash(strings.Join(u.Groups, ",")), u.State, when(u.Created, "-"))
		fmt.Fprintf(e.stdout, "\ncredentials (%d):\n", len(d.Credentials))
		e.credentialTable(d.Credentials)
		if len(d.Codes) > 0 {
			fmt.Fprintf(e.stdout, "\nenrollment codes (%d):\n", len(d.Codes))
			e.codeTable(d.Codes)
		}
	})
}

func (e *env) usersAdd(fs *flag.FlagSet, args []string) error {
	display := fs.String("display-name", "", "name shown on screen (default: NAME)")
	groups := fs.String("groups", "", "comma-separated groups")
	force := fs.Bool("force", false, "accept groups the policy in force does not name")
	pos, err := e.parse(fs, args, 1, 1, "users add NAME [--display-name TEXT] [--groups a,b] [--force]")
	if err != nil {
		return err
	}
	a := admin.UserAddArgs{Name: pos[0], DisplayName: *display, Groups: splitGroups(*groups), Force: *force}
	var u admin.User
	if err := e.call(admin.CmdUsersAdd, a, &u); err != nil {
		return err
	}
	return e.emit(u, func() {
		fmt.Fprintf(e.stdout, "added %s (%s), id %s\nnext: passkioskctl codes issue %s\n", u.Name, u.DisplayName, admin.ReadableUserID(u.ID), u.Name)
	})
}

func (e *env) usersChange(fs *flag.FlagSet, args []string, verb string) error {
	yes := fs.Bool("yes", false, "remove without asking first (for scripts)")
	pos, err := e.parse(fs, args, 1, 1, "users "+verb+" USER")
	if err != nil {
		return err
	}
	if verb == "remove" {
		if err := e.confirmRemove(pos[0], *yes); err != nil {
			return err
		}
	}
	cmd := map[string]string{"disable": admin.CmdUsersDisable, "enable": admin.CmdUsersEnable, "remove": admin.CmdUsersRemove}[verb]
	var u admin.User
	if err := e.call(cmd, admin.UserRef{User: pos[0]}, &u); err != nil {
		return err
	}
	past := map[string]string{"disable": "disabled", "enable": "enabled", "remove": "removed"}[verb]
	return e.emit(u, func() { fmt.Fprintf(e.stdout, "%s %s\n", past, u.Name) })
}

func (e *env) usersUnsuspend(fs *flag.FlagSet, args []string) error {
	pos, err := e.parse(fs, args, 1, 1, "users unsuspend USER")
	if err != nil {
		return err
	}
	var r admin.Unsuspended
	if err := e.call(admin.CmdUsersUnsuspend, admin.UserRef{User: pos[0]}, &r); err != nil {
		return err
	}
	return e.emit(r, func() {
		if r.HadTries {
			fmt.Fprintf(e.stdout, "%s may use their passkey on this terminal again; their wrong PINs are forgotten\n", r.User.Name)
		} else {
			fmt.Fprintf(e.stdout, "%s had no wrong PINs counted\n", r.User.Name)
		}
	})
}

func (e *env) credentialTable(creds []admin.Credential) {
	rows := make([][]string, len(creds))
	for i, c := range creds {
		model := c.Model
		switch {
		case model == "" && c.Kind == "platform":
			model = "TPM"
		case model == "" && strings.Trim(c.AAGUID, "0-") == "":
			model = "-"
		case model == "":
			model = "aaguid " + c.AAGUID[:8]
		}
		rows[i] = []string{short(c.ID), c.UserName, c.Kind, fit(model, 22), fit(orDash(c.Label), 16), when(c.Created, "-"), when(c.LastUsed, "never")}
	}
	// The full AAGUID is in --json.
	e.table([]string{"ID", "USER", "KIND", "MODEL", "LABEL", "CREATED", "LAST USED"}, rows)
}

func (e *env) credentials(verb string, args []string) error {
	fs := flag.NewFlagSet("credentials "+verb, flag.ContinueOnError)
	switch verb {
	case "list", "ls", "":
		pos, err := e.parse(fs, args, 0, 1, "credentials list [USER]")
		if err != nil {
			return err
		}
		var a admin.CredentialsListArgs
		if len(pos) == 1 {
			a.User = pos[0]
		}
		var creds []admin.Credential
		if err := e.call(admin.CmdCredentialsList, a, &creds); err != nil {
			return err
		}
		return e.emit(creds, func() { e.credentialTable(creds) })
	case "revoke":
		yes := fs.Bool("yes", false, "revoke without asking first (for scripts)")
		reason := fs.String("reason", "", "why, kept with the revocation (--fleet only)")
		pos, err := e.parse(fs, args, 1, 1, "credentials revoke ID [--yes] [--reason TEXT]")
		if err != nil {
			return err
		}
		var a any = admin.IDRef{ID: pos[0]}
		switch {
		case e.fleet.url != "":
			a = fleetapi.RevokeArgs{ID: pos[0], Reason: *reason}
		case *reason != "":
			return usagef("--reason is kept by the fleet's directory: add --fleet, or leave it out")
		}
		if err := e.confirmRevoke(pos[0], *yes); err != nil {
			return err
		}
		var c admin.Credential
		if err := e.call(admin.CmdCredentialsRevoke, a, &c); err != nil {
			return err
		}
		return e.emit(c, func() {
			fmt.Fprintf(e.stdout, "revoked %s credential %s of %s\n", c.Kind, c.ID, c.UserName)
		})
	}
	return usagef("credentials: unknown action %q (list, revoke)", verb)
}
