package main

import (
	"flag"
	"fmt"
	"time"

	"passkiosk/kiosk/admin"
)

// tpm runs "tpm lockout" and "tpm lockout reset".
func (e *env) tpm(verb string, args []string) error {
	if verb != "lockout" {
		return usagef("usage: passkioskctl tpm lockout [reset]")
	}
	fs := flag.NewFlagSet("tpm lockout", flag.ContinueOnError)
	pos, err := e.parse(fs, args, 0, 1, "tpm lockout [reset]")
	if err != nil {
		return err
	}
	cmd := admin.CmdTPMLockout
	if len(pos) == 1 {
		if pos[0] != "reset" {
			return usagef("usage: passkioskctl tpm lockout [reset]")
		}
		cmd = admin.CmdTPMLockoutReset
	}
	var l admin.TPMLockout
	if err := e.call(cmd, nil, &l); err != nil {
		return err
	}
	return e.emit(l, func() { e.printLockout(l) })
}

func (e *env) printLockout(l admin.TPMLockout) {
	w := e.stdout
	secs := func(s int64) string { return (time.Duration(s) * time.Second).String() }
	fmt.Fprintf(w, "counter:    %d of %d wrong PINs (everyone's, on this terminal)\n", l.Counter, l.Max)
	fmt.Fprintf(w, "recovery:   one forgotten every %s; lockout authorization blocked %s after a wrong one\n", secs(l.Interval), secs(l.Recovery))
	if l.InLockout {
		fmt.Fprintf(w, "lockout:    yes: PIN sign-in paused, at most %s left\n", secs(l.TimeLeft))
	} else {
		fmt.Fprintf(w, "lockout:    no\n")
	}
	if l.Managed {
		fmt.Fprintf(w, "parameters: set by passkiosk (lockout authorization: %s)\n", l.Source)
	} else {
		fmt.Fprintf(w, "parameters: the chip's own; passkiosk cannot manage them (%s)\n", orDash(l.Reason))
	}
}
