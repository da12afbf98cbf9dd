package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
)

func (e *env) codeTable(codes []admin.Code) {
	rows := make([][]string, len(codes))
	for i, c := range codes {
		state := "unused"
		switch {
		case !c.UsedAt.IsZero():
			state = "used " + when(c.UsedAt, "")
		case time.Now().After(c.ExpiresAt):
			state = "expired"
		}
		rows[i] = []string{short(c.ID), orDash(c.UserName), c.Purpose, when(c.IssuedAt, "-"), when(c.ExpiresAt, "-"), orDash(c.IssuedBy), state}
	}
	e.table([]string{"ID", "USER", "PURPOSE", "ISSUED", "EXPIRES", "ISSUED BY", "STATE"}, rows)
}

func (e *env) codes(verb string, args []string) error {
	fs := flag.NewFlagSet("codes "+verb, flag.ContinueOnError)
	switch verb {
	case "issue":
		ttl := fs.Duration("ttl", 24*time.Hour, "how long the code stays valid (at most 168h)")
		purpose := fs.String("purpose", "enroll", "enroll (a first or further passkey) or recovery (replaces every passkey the person has, once used)")
		pos, err := e.parse(fs, args, 1, 1, "codes issue USER [--ttl 24h] [--purpose enroll|recovery]")
		if err != nil {
			return err
		}
		a := admin.CodeIssueArgs{User: pos[0], Purpose: *purpose, TTL: *ttl}
		var ic admin.IssuedCode
		if err := e.call(admin.CmdCodesIssue, a, &ic); err != nil {
			return err
		}
		return e.emit(ic, func() {
			fmt.Fprintf(e.stdout, "%s\n\none-time %s code for %s, valid until %s (id %s).\nIt is shown only now: hand it over in person.\n",
				ic.Code, ic.Info.Purpose, ic.Info.UserName, when(ic.Info.ExpiresAt, "-"), short(ic.Info.ID))
			if ic.Info.Purpose == "recovery" {
				fmt.Fprintf(e.stdout, "Once %s registers a new passkey with it, their other passkeys are revoked.\n", ic.Info.UserName)
			}
		})
	case "list", "ls", "":
		if _, err := e.parse(fs, args, 0, 0, "codes list"); err != nil {
			return err
		}
		var codes []admin.Code
		if err := e.call(admin.CmdCodesList, nil, &codes); err != nil {
			return err
		}
		return e.emit(codes, func() { e.codeTable(codes) })
	case "cancel":
		pos, err := e.parse(fs, args, 1, 1, "codes cancel ID")
		if err != nil {
			return err
		}
		var r admin.IDRef
		if err := e.call(admin.CmdCodesCancel, admin.IDRef{ID: pos[0]}, &r); err != nil {
			return err
		}
		return e.emit(r, func() { fmt.Fprintf(e.stdout, "cancelled code %s\n", r.ID) })
	}
	return usagef("codes: unknown action %q (issue, list, cancel)", verb)
}

func (e *env) policyShow(fs *flag.FlagSet, args []string) error {
	if _, err := e.parse(fs, args, 0, 0, "policy show"); err != nil {
		return err
	}
	var p admin.PolicyShown
	if err := e.call(admin.CmdPolicyShow, nil, &p); err != nil {
		return err
	}
	return e.emit(p, func() {
		if p.Version == 0 {
			fmt.Fprintf(e.stdout, "# built-in default policy (none applied yet)\n")
		} else {
			fmt.Fprintf(e.stdout, "# version %d, applied %s by %s\n", p.Version, when(p.ChangedAt, "-"), p.ChangedBy)
		}
		fmt.Fprint(e.stdout, p.Text)
	})
}

func (e *env) policyValidate(fs *flag.FlagSet, args []string) error {
	pos, err := e.parse(fs, args, 1, 1, "policy validate FILE")
	if err != nil {
		return err
	}
	p, err := config.LoadPolicy(pos[0])
	if err != nil {
		return err
	}
	return e.emit(map[string]any{"valid": true, "file": pos[0], "canonical": string(config.RenderPolicy(p))}, func() {
		fmt.Fprintf(e.stdout, "%s: valid (%d groups, platform %s, security keys %s)\n", pos[0], len(p.Groups), onOff(p.Platform.Enabled), onOff(p.Roaming.Enabled))
	})
}

func (e *env) policyApply(fs *flag.FlagSet, args []string) error {
	dry := fs.Bool("dry-run", false, "show the diff, change nothing")
	base := fs.Uint64("base", 0, "refuse unless the current version is this one (the one you reviewed)")
	yes := fs.Bool("yes", false, "apply without showing the change and asking first (for scripts)")
	pos, err := e.parse(fs, args, 1, 1, "policy apply FILE [--dry-run] [--base VERSION] [--yes]")
	if err != nil {
		return err
	}
	// Checked here first, so errors name the administrator's own file
	// and its trust anchors are read on this side.
	p, err := config.LoadPolicy(pos[0])
	if err != nil {
		return err
	}
	a := admin.PolicyApplyArgs{Name: filepath.Base(pos[0]), Text: string(config.RenderPolicy(p)), Base: *base, DryRun: *dry}
	if !*dry {
		if done, err := e.confirmApply(&a, *yes); done || err != nil {
			return err
		}
	}
	var r admin.PolicyApplied
	if err := e.call(admin.CmdPolicyApply, a, &r); err != nil {
		return err
	}
	return e.emit(r, func() {
		switch {
		case !r.Changed:
			fmt.Fprintf(e.stdout, "no change: the policy in force (version %d) already says this\n", r.Previous)
		default:
			printDiff(e.stdout, r.Diff)
			if *dry {
				fmt.Fprintf(e.stdout, "dry run: nothing applied (current version %d)\n", r.Previous)
			} else {
				fmt.Fprintf(e.stdout, "applied as version %d (was %d)\n", r.Version, r.Previous)
			}
		}
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// printDiff prints only changed lines with two lines of context.
func printDiff(w io.Writer, diff string) {
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	show := make([]bool, len(lines))
	for i, l := range lines {
		if !strings.HasPrefix(l, "  ") {
			for j := max(0, i-2); j <= min(len(lines)-1, i+2); j++ {
				show[j] = true
			}
		}
	}
	gap := false
	for i, l := range lines {
		if !show[i] {
			gap = true
			continue
		}
		if gap {
			fmt.Fprintln(w, "  …")
			gap = false
		}
		fmt.Fprintln(w, l)
	}
}

func (e *env) sessions(verb string, args []string) error {
	fs := flag.NewFlagSet("sessions "+verb, flag.ContinueOnError)
	switch verb {
	case "list", "ls", "":
		open := fs.Bool("open", false, "only sessions not yet ended and wiped")
		if _, err := e.parse(fs, args, 0, 0, "sessions list [--open]"); err != nil {
			return err
		}
		var l admin.SessionsList
		if err := e.call(admin.CmdSessionsList, admin.SessionsListArgs{OpenOnly: *open}, &l); err != nil {
			return err
		}
		return e.emit(l, func() {
			if l.Current != nil {
				fmt.Fprintf(e.stdout, "in progress: %s since %s, ends at the latest %s\n\n", l.Current.DisplayName, when(l.Current.Started, "-"), when(l.Current.EndsAt, "-"))
			} else {
				fmt.Fprintf(e.stdout, "no session in progress\n\n")
			}
			rows := make([][]string, len(l.Journal))
			for i, s := range l.Journal {
				rows[i] = []string{fmt.Sprint(s.ID), orDash(s.UserName), s.Terminal, when(s.OpenedAt, "-"), when(s.EndedAt, "open"), orDash(s.Cause), yesNo(s.Wiped)}
			}
			e.table([]string{"ID", "USER", "TERMINAL", "OPENED", "ENDED", "CAUSE", "WIPED"}, rows)
		})
	case "end":
		if _, err := e.parse(fs, args, 0, 0, "sessions end"); err != nil {
			return err
		}
		var r admin.SessionsEndResult
		if err := e.call(admin.CmdSessionsEnd, nil, &r); err != nil {
			return err
		}
		return e.emit(r, func() { fmt.Fprintln(e.stdout, "session ended; its workspace is being wiped") })
	}
	return usagef("sessions: unknown action %q (list, end)", verb)
}

func (e *env) auditTail(fs *flag.FlagSet, args []string) error {
	n := fs.Int("n", 20, "how many of the newest entries")
	if _, err := e.parse(fs, args, 0, 0, "audit tail [-n 20]"); err != nil {
		return err
	}
	if *n < 1 || *n > admin.MaxTail {
		return usagef("audit tail: -n must be 1..%d, got %d", admin.MaxTail, *n)
	}
	var evs []admin.AuditEntry
	if err := e.call(admin.CmdAuditTail, admin.AuditArgs{N: *n}, &evs); err != nil {
		return err
	}
	return emitLines(e, evs, func() {
		for _, a := range evs {
			e.auditLine(a)
		}
	})
}

// followLimits are audit follow's --count and --for, here and on the
// fleet.
type followLimits struct {
	count *int
	dur   *time.Duration
}

func followFlags(fs *flag.FlagSet) followLimits {
	return followLimits{count: fs.Int("count", 0, "stop after this many entries (0: until interrupted)"),
		dur: fs.Duration("for", 0, "stop after this long (0: until interrupted)")}
}

// context ends at --for, when given.
func (l followLimits) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if *l.dur > 0 {
		return context.WithTimeout(ctx, *l.dur)
	}
	return context.WithCancel(ctx)
}

func (e *env) auditFollow(fs *flag.FlagSet, args []string) error {
	from := fs.Uint64("from", 0, "start at this sequence number (default: only new entries)")
	lim := followFlags(fs)
	count := lim.count
	if _, err := e.parse(fs, args, 0, 0, "audit follow [--from SEQ] [--count N] [--for DURATION]"); err != nil {
		return err
	}
	ctx, cancel := lim.context(e.ctx)
	defer cancel()
	seen := 0
	started := false
	enc := json.NewEncoder(e.stdout)
	_, err := e.client.Stream(ctx, admin.CmdAuditFollow, admin.AuditArgs{From: *from}, func(raw json.RawMessage) bool {
		if !started {
			// The first part only says the stream is open.
			started = true
			if !e.json {
				fmt.Fprintln(e.stderr, "following the audit log…")
			}
			return *count <= 0 || seen < *count
		}
		var a admin.AuditEntry
		if err := json.Unmarshal(raw, &a); err != nil {
			return false
		}
		if e.json {
			enc.Encode(a)
		} else {
			e.auditLine(a)
		}
		seen++
		return *count <= 0 || seen < *count
	})
	if kiosk.KindOf(err) == kiosk.KindCancelled {
		// Interrupted or --for ran out: how a follow ends.
		return nil
	}
	return err
}

func (e *env) auditExport(fs *flag.FlagSet, args []string) error {
	from := fs.Uint64("from", 0, "start at this sequence number")
	out := fs.String("o", "-", "write to this file instead of standard output")
	if _, err := e.parse(fs, args, 0, 0, "audit export [--from SEQ] [-o FILE]"); err != nil {
		return err
	}
	if *out == "-" {
		_, err := e.export(e.stdout, *from, func(lines int) string {
			if lines == 0 {
				return ""
			}
			return "the output is incomplete"
		})
		return err
	}
	return e.exportFile(*out, *from)
}

func (e *env) auditVerify(fs *flag.FlagSet, args []string) error {
	pos, err := e.parse(fs, args, 0, 1, "audit verify [FILE]")
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		return e.verifyFile(pos[0])
	}
	var c admin.Chain
	if err := e.call(admin.CmdAuditVerify, nil, &c); err != nil {
		return err
	}
	return e.emit(c, func() {
		fmt.Fprintf(e.stdout, "audit chain intact: %d entries, %d..%d, head hash %s\n", c.Entries, c.Anchor+1, c.Head, c.Hash)
	})
}
