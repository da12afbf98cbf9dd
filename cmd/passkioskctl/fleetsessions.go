package main

import (
	"flag"
	"fmt"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
)

// fleetSessions lists the sessions in progress across the fleet and
// ends one at a terminal.
func (e *env) fleetSessions(verb string, args []string) error {
	fs := flag.NewFlagSet("sessions "+verb, flag.ContinueOnError)
	switch verb {
	case "list", "ls", "":
		if _, err := e.fleetOnly(fs, args, 0, 0, "sessions list"); err != nil {
			return err
		}
		var l []fleetapi.FleetSession
		if err := e.call(admin.CmdSessionsList, nil, &l); err != nil {
			return err
		}
		return e.emit(l, func() {
			rows := make([][]string, len(l))
			for i, s := range l {
				state := "in progress"
				if s.Silent {
					state = "terminal silent: may have ended"
				}
				rows[i] = []string{s.Terminal, orDash(s.UserName), s.DisplayName, when(s.Started, "-"), when(s.EndsAt, "-"), state}
			}
			e.table([]string{"TERMINAL", "USER", "DISPLAY NAME", "SINCE", "ENDS AT THE LATEST", "STATE"}, rows)
		})
	case "end":
		user := fs.String("user", "", "end it only if it is this person's (sign-in name or ID)")
		pos, err := e.fleetOnly(fs, args, 1, 1, "sessions end TERMINAL [--user USER]")
		if err != nil {
			return err
		}
		var r fleetapi.SessionEnded
		if err := e.call(admin.CmdSessionsEnd, fleetapi.SessionEndArgs{Terminal: pos[0], User: *user}, &r); err != nil {
			return err
		}
		return e.emit(r, func() {
			fmt.Fprintf(e.stdout, "%s's session at %s ended; its workspace is being wiped (the terminal audited your request)\n", orDash(r.UserName), r.Terminal)
		})
	}
	return usagef("sessions: unknown action %q (list, end)", verb)
}
