package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"passkiosk/kiosk/admin"
)

// The audit table: one aligned line per entry (sequence number, time in
// RFC 3339 with its zone, event, the person by name and ID, terminal),
// then what the entry says (who acted, with which credential, the
// session, reason or cause and the details) on indented lines below it.
// Every line fits tableWidth columns, so tail and follow read in a
// standard terminal and in a ticket.

const (
	tableWidth  = 100
	seqWidth    = 6
	eventWidth  = 21
	userWidth   = 22
	detailInset = seqWidth + 1
)

// auditLine prints one entry as a table row, with the header before the
// first.
func (e *env) auditLine(a admin.AuditEntry) {
	at := a.Time
	if t, err := time.Parse(time.RFC3339Nano, a.Time); err == nil {
		at = t.Local().Format(time.RFC3339)
	}
	termWidth := tableWidth - (seqWidth + 1 + utf8.RuneCountInString(at) + 1 + eventWidth + 1 + userWidth + 1)
	if !e.auditHeader {
		e.auditHeader = true
		fmt.Fprintf(e.stdout, "%*s %-*s %-*s %-*s %s\n", seqWidth, "SEQ", utf8.RuneCountInString(at), "TIME",
			eventWidth, "EVENT", userWidth, "USER (ID)", "TERMINAL")
	}
	fmt.Fprintf(e.stdout, "%*d %s %s %s %s\n", seqWidth, a.Seq, at, pad(a.Type, eventWidth), pad(whoOf(a), userWidth),
		strings.TrimRight(fit(orDash(a.Terminal), termWidth), " "))
	for _, l := range wrap(detailsOf(a), tableWidth-detailInset) {
		fmt.Fprintf(e.stdout, "%*s%s\n", detailInset, "", l)
	}
}

// whoOf names the entry's person by sign-in name and ID.
func whoOf(a admin.AuditEntry) string {
	switch {
	case a.UserID == "":
		return "-"
	case a.User == "":
		return "(" + a.UserID + ")"
	case a.User == a.UserID:
		return a.User
	}
	return a.User + " (" + a.UserID + ")"
}

// detailsOf says what the entry records beyond its columns.
func detailsOf(a admin.AuditEntry) []string {
	var out []string
	if a.Actor != "" && a.Actor != "engine" {
		out = append(out, "by "+a.Actor+";")
	}
	switch {
	case a.Credential != "":
		out = append(out, "with "+a.Credential+";")
	case a.CredentialID != "":
		out = append(out, "with credential "+short(a.CredentialID)+";")
	}
	if a.SessionID != 0 {
		out = append(out, fmt.Sprintf("session=%d", a.SessionID))
	}
	if a.Reason != "" {
		out = append(out, "reason="+a.Reason)
	}
	if a.Cause != "" {
		out = append(out, "cause="+a.Cause)
	}
	// The user column already names the person; the rest in a stable
	// order.
	for _, k := range slices.Sorted(maps.Keys(a.Detail)) {
		if strings.HasPrefix(k, "admin-") {
			continue
		}
		out = append(out, k+"="+a.Detail[k])
	}
	if len(a.Items) > 0 {
		out = append(out, fmt.Sprintf("items(%d)=%s", len(a.Items), strings.Join(a.Items, ",")))
	}
	return out
}

// wrap joins words into lines of at most width runes, cutting a word
// only when it alone is longer than a line.
func wrap(words []string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range words {
		for utf8.RuneCountInString(w) > width {
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			r := []rune(w)
			lines, w = append(lines, string(r[:width])), string(r[width:])
		}
		switch {
		case cur == "":
			cur = w
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) <= width:
			cur += " " + w
		default:
			lines, cur = append(lines, cur), w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// fit cuts s to width runes, marking a cut with "…".
func fit(s string, width int) string {
	if width < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width-1]) + "…"
}

// pad fits s to width runes and pads it with spaces.
func pad(s string, width int) string {
	s = fit(s, width)
	return s + strings.Repeat(" ", width-utf8.RuneCountInString(s))
}

// emitLines prints each item as one line of JSON with --json (JSON
// lines, as follow streams them), or calls human otherwise.
func emitLines[T any](e *env, items []T, human func()) error {
	if !e.json {
		human()
		return nil
	}
	enc := json.NewEncoder(e.stdout)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
