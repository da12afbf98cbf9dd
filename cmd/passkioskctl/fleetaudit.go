package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
)

// The fleet's audit trail: the fleet service's archive of every
// terminal's verified chain, searched by person, terminal, time and
// event.

// wantsFleet says whether the command runs on the fleet: --fleet among
// its arguments, or PASSKIOSK_FLEET or a --fleet before the command.
func (e *env) wantsFleet(args []string) bool {
	if e.fleet.url != "" {
		return true
	}
	for _, a := range args {
		if a == "--fleet" || a == "-fleet" || strings.HasPrefix(a, "--fleet=") || strings.HasPrefix(a, "-fleet=") {
			return true
		}
	}
	return false
}

// auditFilters are the flags that select archived entries.
type auditFilters struct {
	q            fleetapi.AuditQuery
	since, until string
	events       string
}

func (f *auditFilters) register(fs *flag.FlagSet) {
	fs.StringVar(&f.q.Person, "person", "", "only this person (sign-in name or user ID)")
	fs.StringVar(&f.q.Terminal, "terminal", "", "only this terminal (its fleet name)")
	fs.StringVar(&f.since, "since", "", "from this time (RFC 3339) or this long ago (90m, 24h)")
	fs.StringVar(&f.until, "until", "", "before this time (RFC 3339) or this long ago")
	fs.StringVar(&f.events, "event", "", "only these events, comma-separated (sign-in-failed,session-ended)")
}

// query is the selection the flags make.
func (f *auditFilters) query() (fleetapi.AuditQuery, error) {
	q := f.q
	var err error
	if q.Since, err = whenFlag("since", f.since); err != nil {
		return q, err
	}
	if q.Until, err = whenFlag("until", f.until); err != nil {
		return q, err
	}
	if f.events != "" {
		q.Events = strings.Split(f.events, ",")
	}
	return q, nil
}

func whenFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, usagef("--%s %q: a time such as 2026-03-01T08:00:00+01:00, or a duration ago such as 90m", name, s)
	}
	return t, nil
}

const auditFilterUsage = "[--person P] [--terminal T] [--since T] [--until T] [--event E,…]"

// fleetAudit runs audit tail, follow, export and verify on the fleet.
func (e *env) fleetAudit(verb string, args []string) error {
	fs := flag.NewFlagSet("audit "+verb, flag.ContinueOnError)
	var f auditFilters
	switch verb {
	case "tail", "":
		n := fs.Int("n", 20, "how many of the newest entries")
		f.register(fs)
		if _, err := e.fleetOnly(fs, args, 0, 0, "audit tail [-n 20] "+auditFilterUsage); err != nil {
			return err
		}
		q, err := f.query()
		if err != nil {
			return err
		}
		q.N = *n
		var hits []fleetapi.AuditHit
		if err := e.call(admin.CmdAuditTail, q, &hits); err != nil {
			return err
		}
		return emitLines(e, hits, func() {
			for _, h := range hits {
				e.auditHit(h)
			}
		})
	case "follow":
		return e.fleetFollow(fs, &f, args)
	case "export":
		return e.fleetExport(fs, &f, args)
	case "verify":
		return e.fleetVerify(fs, args)
	}
	return usagef("audit: unknown action %q (tail, follow, export, verify)", verb)
}

// auditHit prints an archived entry as the audit table does, naming the
// terminal by its fleet name.
func (e *env) auditHit(h fleetapi.AuditHit) {
	a := h.Entry
	if a.Terminal != h.FleetName {
		a.Terminal = strings.TrimSpace(h.FleetName + " " + paren(a.Terminal))
	}
	e.auditLine(a)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func (e *env) fleetFollow(fs *flag.FlagSet, f *auditFilters, args []string) error {
	lim := followFlags(fs)
	count := lim.count
	f.register(fs)
	if _, err := e.fleetOnly(fs, args, 0, 0, "audit follow [--count N] [--for DURATION] "+auditFilterUsage); err != nil {
		return err
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	ctx, cancel := lim.context(e.ctx)
	defer cancel()
	seen, started := 0, false
	enc := json.NewEncoder(e.stdout)
	_, err = e.client.Stream(ctx, admin.CmdAuditFollow, q, func(raw json.RawMessage) bool {
		var p fleetapi.FollowPart
		if err := json.Unmarshal(raw, &p); err != nil {
			return false
		}
		if !started {
			started = true
			if !e.json {
				fmt.Fprintln(e.stderr, "following the fleet's audit archive…")
			}
		}
		if p.Hit == nil {
			return true
		}
		if e.json {
			enc.Encode(p.Hit)
		} else {
			e.auditHit(*p.Hit)
		}
		seen++
		return *count <= 0 || seen < *count
	})
	if kiosk.KindOf(err) == kiosk.KindCancelled {
		return nil
	}
	return err
}

// fleetExport writes the selected entries as JSON lines. With --terminal
// they are that terminal's chain as an export's lines (audit verify FILE
// checks them); without, each line names its terminal (fleet_name).
func (e *env) fleetExport(fs *flag.FlagSet, f *auditFilters, args []string) error {
	out := fs.String("o", "-", "write to this file (made only once the export is complete)")
	f.register(fs)
	if _, err := e.fleetOnly(fs, args, 0, 0, "audit export [-o FILE] "+auditFilterUsage); err != nil {
		return err
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := e.fleetExportTo(e.stdout, q)
		return err
	}
	return writeNew(*out, func(w io.Writer) error {
		n, err := e.fleetExportTo(w, q)
		if err == nil {
			fmt.Fprintf(e.stderr, "exported %d entries to %s\n", n, *out)
		}
		return err
	})
}

func (e *env) fleetExportTo(w io.Writer, q fleetapi.AuditQuery) (int, error) {
	n := 0
	enc := json.NewEncoder(w)
	var werr error
	last, err := e.client.Stream(e.ctx, admin.CmdAuditExport, q, func(raw json.RawMessage) bool {
		var h fleetapi.AuditHit
		if werr = json.Unmarshal(raw, &h); werr != nil {
			return false
		}
		if q.Terminal != "" {
			werr = enc.Encode(h.Entry)
		} else {
			werr = enc.Encode(h)
		}
		n++
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, fmt.Errorf("audit export stopped after %d entries: %w", n, err)
	}
	var done struct {
		Exported int `json:"exported"`
	}
	if err := json.Unmarshal(last, &done); err != nil || done.Exported != n {
		return n, fmt.Errorf("audit export: the fleet service counted %d entries but %d arrived", done.Exported, n)
	}
	return n, nil
}

func (e *env) fleetVerify(fs *flag.FlagSet, args []string) error {
	if _, err := e.fleetOnly(fs, args, 0, 0, "audit verify"); err != nil {
		return err
	}
	var v fleetapi.AuditVerified
	if err := e.call(admin.CmdAuditVerify, nil, &v); err != nil {
		return err
	}
	err := e.emit(v, func() {
		rows := make([][]string, len(v.Terminals))
		for i, t := range v.Terminals {
			state := "intact"
			switch {
			case t.Problem != "":
				state = "BROKEN: " + t.Problem
			case t.Stopped != "":
				state = "STOPPED: " + t.Stopped
			case !t.StartsChain:
				state = "intact from entry " + fmt.Sprint(t.First)
			}
			rows[i] = []string{t.Terminal, fmt.Sprint(t.Entries), fmt.Sprint(t.Last), short(t.LastHash), state}
		}
		e.table([]string{"TERMINAL", "ENTRIES", "LAST", "LAST HASH", "CHAIN"}, rows)
	})
	if err == nil && v.Broken > 0 {
		return &admin.Error{Code: admin.ExitFailed, Kind: kiosk.KindStoreCorrupt.String(), Message: fmt.Sprintf("%d of %d terminals' archived chains do not verify", v.Broken, len(v.Terminals))}
	}
	return err
}

// hasFile says whether the arguments name a file (audit verify FILE runs
// here, on or off the fleet).
func hasFile(args []string) bool {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case strings.HasPrefix(a, "-") && strings.Contains(a, "="):
		case strings.HasPrefix(a, "-") && a != "--json" && a != "-json":
			i++ // the flag's value
		case !strings.HasPrefix(a, "-"):
			return true
		}
	}
	return false
}
