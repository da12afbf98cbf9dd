package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"passkiosk/kiosk/fleetapi"
)

// caller is where commands go: this machine's appliance (admin.Client)
// or the fleet service (fleetapi.Client); both speak the same commands.
type caller interface {
	Call(ctx context.Context, cmd string, args, out any) error
	Stream(ctx context.Context, cmd string, args any, each func(json.RawMessage) bool) (json.RawMessage, error)
}

// fleetTarget is the fleet service and the administrator's own
// certificate, from --fleet and its flags or PASSKIOSK_FLEET and its
// variables.
type fleetTarget struct {
	url, cert, key, ca string
}

func fleetFromEnv() fleetTarget {
	return fleetTarget{url: os.Getenv("PASSKIOSK_FLEET"), cert: os.Getenv("PASSKIOSK_FLEET_CERT"),
		key: os.Getenv("PASSKIOSK_FLEET_KEY"), ca: os.Getenv("PASSKIOSK_FLEET_CA")}
}

func (f *fleetTarget) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "fleet", f.url, "the fleet service (https://host:port): run the command on the fleet, not this appliance")
	fs.StringVar(&f.cert, "fleet-cert", f.cert, "your administrator's client certificate (PEM)")
	fs.StringVar(&f.key, "fleet-key", f.key, "its private key (PEM)")
	fs.StringVar(&f.ca, "fleet-ca", f.ca, "the certificates that sign the fleet service's (PEM)")
}

func (f *fleetTarget) client(timeout time.Duration) (*fleetapi.Client, error) {
	if !strings.HasPrefix(f.url, "https://") {
		return nil, usagef("--fleet %q: the fleet service's https:// URL", f.url)
	}
	c, err := fleetapi.NewClient(f.url, f.cert, f.key, f.ca)
	if err != nil {
		return nil, usagef("%v", err)
	}
	c.Timeout = timeout
	return c, nil
}

// fleetUnreachableHint says what to check when the service does not
// answer.
const fleetUnreachableHint = "check --fleet (or PASSKIOSK_FLEET) and that passkiosk-fleetd runs; a TLS error names a certificate the service does not accept"

// dispatchFleet runs the commands only the fleet has, and sessions and
// audit when they go to the fleet (their flags differ there); false:
// the command is the appliance's.
func (e *env) dispatchFleet(noun, verb string, rest []string) (bool, error) {
	onFleet := e.wantsFleet(rest)
	switch {
	case onFleet && (noun == "sessions" || noun == "session"):
		return true, e.fleetSessions(verb, rest)
	case onFleet && noun == "audit" && (verb != "verify" || !hasFile(rest)):
		return true, e.fleetAudit(verb, rest)
	}
	switch noun {
	case "terminals", "terminal":
		return true, e.terminals(verb, rest)
	case "revocations":
		return true, e.revocations(verb, rest)
	case "whoami":
		if verb != "" {
			rest = append([]string{verb}, rest...)
		}
		return true, e.whoAmI(rest)
	}
	return false, nil
}

// fleetOnly parses a fleet command's flags and refuses it without
// --fleet.
func (e *env) fleetOnly(fs *flag.FlagSet, args []string, minPos, maxPos int, usage string) ([]string, error) {
	pos, err := e.parse(fs, args, minPos, maxPos, usage)
	if err != nil {
		return nil, err
	}
	if e.fleet.url == "" {
		return nil, usagef("%s is a fleet command: add --fleet https://FLEETD:PORT with --fleet-cert, --fleet-key and --fleet-ca", strings.Fields(usage)[0])
	}
	return pos, nil
}

func (e *env) whoAmI(args []string) error {
	if _, err := e.fleetOnly(flag.NewFlagSet("whoami", flag.ContinueOnError), args, 0, 0, "whoami --fleet URL"); err != nil {
		return err
	}
	var w fleetapi.WhoAmI
	if err := e.call(fleetapi.CmdWhoAmI, nil, &w); err != nil {
		return err
	}
	return e.emit(w, func() { fmt.Fprintf(e.stdout, "%s (%s) at %s\n", w.Name, w.Role, e.fleet.url) })
}

func (e *env) revocations(verb string, args []string) error {
	if verb != "" && verb != "list" && verb != "ls" {
		return usagef("revocations: unknown action %q (list)", verb)
	}
	if _, err := e.fleetOnly(flag.NewFlagSet("revocations", flag.ContinueOnError), args, 0, 0, "revocations list"); err != nil {
		return err
	}
	var rs []fleetapi.Revocation
	if err := e.call(fleetapi.CmdRevocationsList, nil, &rs); err != nil {
		return err
	}
	return e.emit(rs, func() {
		rows := make([][]string, len(rs))
		for i, r := range rs {
			rows[i] = []string{short(r.CredentialID), orDash(r.UserName), when(r.At, "-"), orDash(r.By), orDash(r.Reason)}
		}
		e.table([]string{"CREDENTIAL", "USER", "REVOKED", "BY", "REASON"}, rows)
	})
}

func (e *env) terminals(verb string, args []string) error {
	fs := flag.NewFlagSet("terminals "+verb, flag.ContinueOnError)
	switch verb {
	case "", "list", "ls":
		if _, err := e.fleetOnly(fs, args, 0, 0, "terminals list"); err != nil {
			return err
		}
		var l fleetapi.TerminalList
		if err := e.call(fleetapi.CmdTerminalsList, nil, &l); err != nil {
			return err
		}
		return e.emit(l, func() { e.terminalTable(l) })
	case "set":
		return e.terminalSet(fs, args)
	}
	return usagef("terminals: unknown action %q (list, set)", verb)
}

func (e *env) terminalTable(l fleetapi.TerminalList) {
	rows := make([][]string, len(l.Terminals))
	for i, t := range l.Terminals {
		var labels []string
		for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
			labels = append(labels, k+"="+t.Labels[k])
		}
		applied := "-"
		if t.Applied > 0 {
			applied = fmt.Sprint(t.Applied)
		}
		rows[i] = []string{t.Name, orDash(t.Site), orDash(t.Ward), orDash(strings.Join(labels, ",")), t.Health,
			when(t.LastHeartbeat, "none"), applied, when(t.OfflineSince, "-"), orDash(t.Version)}
	}
	e.table([]string{"NAME", "SITE", "WARD", "LABELS", "HEALTH", "HEARTBEAT", "APPLIED", "OFFLINE SINCE", "VERSION"}, rows)
	fmt.Fprintf(e.stdout, "directory at revision %d\n", l.Revision)
}

// labelFlags collects --label k=v, given any number of times.
type labelFlags map[string]string

func (l labelFlags) String() string { return "" }
func (l labelFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--label %q: KEY=VALUE (KEY= removes the label)", s)
	}
	l[k] = v
	return nil
}

// optString is a flag that says whether it was given.
type optString struct{ v *string }

func (o *optString) String() string { return "" }
func (o *optString) Set(s string) error {
	o.v = &s
	return nil
}

func (e *env) terminalSet(fs *flag.FlagSet, args []string) error {
	var site, ward optString
	labels := labelFlags{}
	fs.Var(&site, "site", "the site the terminal stands at")
	fs.Var(&ward, "ward", "its ward")
	fs.Var(labels, "label", "KEY=VALUE, repeatable; KEY= removes it")
	pos, err := e.fleetOnly(fs, args, 1, 1, "terminals set NAME [--site S] [--ward W] [--label KEY=VALUE]…")
	if err != nil {
		return err
	}
	a := fleetapi.TerminalSetArgs{Name: pos[0], Site: site.v, Ward: ward.v, Labels: labels}
	var t fleetapi.Terminal
	if err := e.call(fleetapi.CmdTerminalsSet, a, &t); err != nil {
		return err
	}
	return e.emit(t, func() {
		fmt.Fprintf(e.stdout, "terminal %s: site %s, ward %s, labels %d (recorded as changed by %s)\n", t.Name, orDash(t.Site), orDash(t.Ward), len(t.Labels), t.UpdatedBy)
	})
}
