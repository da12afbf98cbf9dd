package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"passkiosk/kiosk/policy"
)

// PolicySchema is the version of the stored policy encoding: Data in the
// store's policy records is the canonical policy TOML that RenderPolicy
// writes, trust anchors inlined as PEM.
const PolicySchema = 1

// policyFile is the policy file's layout. Every field is optional: what a
// file leaves out keeps the value of policy.Default, and a group's rules
// left out are those of [default].
type policyFile struct {
	RPID                  *string               `toml:"rp_id"`
	RPName                *string               `toml:"rp_name"`
	Origin                *string               `toml:"origin"`
	RequireUV             *bool                 `toml:"require_uv"`
	MinPINLength          *int                  `toml:"min_pin_length"`
	MinCredentials        *int                  `toml:"min_credentials"`
	ShowTiles             *bool                 `toml:"show_tiles"`
	KeyRemovalEndsSession *bool                 `toml:"key_removal_ends_session"`
	KeyTapEndsSession     *bool                 `toml:"key_tap_ends_session"`
	AAGUIDAllow           *[]string             `toml:"aaguid_allow"`
	AAGUIDBlock           *[]string             `toml:"aaguid_block"`
	RequireAttestation    *bool                 `toml:"require_attestation"`
	TrustAnchors          *[]string             `toml:"trust_anchors"`
	Platform              *methodFile           `toml:"platform"`
	Roaming               *methodFile           `toml:"roaming"`
	Default               *rulesFile            `toml:"default"`
	Groups                map[string]*rulesFile `toml:"groups"`
	Places                map[string]*placeFile `toml:"places"`
	Lockout               *lockoutFile          `toml:"lockout"`
}

type methodFile struct {
	Enabled *bool     `toml:"enabled"`
	Groups  *[]string `toml:"groups"`
}

type rulesFile struct {
	Hours       *[]string `toml:"hours"`
	MaxSession  *string   `toml:"max_session"`
	IdleTimeout *string   `toml:"idle_timeout"`
	IdleWarning *string   `toml:"idle_warning"`
	Program     *[]string `toml:"program"`
}

type lockoutFile struct {
	MaxFailures *int    `toml:"max_failures"`
	Window      *string `toml:"window"`
	Backoff     *string `toml:"backoff"`
	MaxBackoff  *string `toml:"max_backoff"`
	Spike       *int    `toml:"spike"`
	// PINSuspendAfter: wrong TPM PINs in a row that suspend a person's
	// passkey on this terminal.
	PINSuspendAfter *int `toml:"pin_suspend_after"`
}

// LoadPolicy reads a policy file from disk. Trust anchors named by path
// are read relative to the file's directory.
func LoadPolicy(path string) (policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return policy.Policy{}, fileErr("read policy", Problems{{File: path, Msg: err.Error()}})
	}
	dir := filepath.Dir(path)
	return ParsePolicy(path, data, func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return os.ReadFile(p)
	})
}

// ParsePolicy reads a policy from TOML text. name is what errors call the
// file; readAnchor reads a trust anchor named by path (nil: only inline
// PEM is accepted). The result is validated; errors are a Problems list
// with lines, in a kiosk.KindMalformed error.
func ParsePolicy(name string, data []byte, readAnchor func(string) ([]byte, error)) (policy.Policy, error) {
	c := newCollector(name, data)
	var f policyFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		c.syntax(err)
		return policy.Policy{}, fileErr("read policy", c.ps)
	}
	c.unknown(md, policyFile{})
	p := policy.Default()
	topLevel(&p, &f)
	if f.TrustAnchors != nil {
		p.TrustAnchors = trustAnchors(c, *f.TrustAnchors, readAnchor)
	}
	p.Platform = method(p.Platform, f.Platform)
	p.Roaming = method(p.Roaming, f.Roaming)
	p.Default = rules(c, "default", p.Default, f.Default)
	p.Groups = groups(c, md, p.Default, f.Groups)
	p.Places = places(c, md, f.Places)
	p.Lockout = lockout(c, p.Lockout, f.Lockout)
	platformOnlyCredentials(c, &p, f.MinCredentials)
	validatePolicy(c, &p)
	if len(c.ps) > 0 {
		return policy.Policy{}, fileErr("read policy", c.ps)
	}
	return p, nil
}

// topLevel sets the policy's top-level keys that the file gives, all but
// the trust anchors.
func topLevel(p *policy.Policy, f *policyFile) {
	setS(&p.RPID, f.RPID)
	setS(&p.RPName, f.RPName)
	setS(&p.Origin, f.Origin)
	if f.RPID != nil && f.Origin == nil {
		// The origin must be the RP ID's or a subdomain's: a file that
		// names only the RP ID means that site's own origin, not the
		// default one, which would no longer match.
		p.Origin = "https://" + *f.RPID
	}
	setB(&p.RequireUV, f.RequireUV)
	setI(&p.MinPINLength, f.MinPINLength)
	setI(&p.MinCredentials, f.MinCredentials)
	setB(&p.ShowTiles, f.ShowTiles)
	setB(&p.KeyRemovalEndsSession, f.KeyRemovalEndsSession)
	setB(&p.KeyTapEndsSession, f.KeyTapEndsSession)
	setB(&p.RequireAttestation, f.RequireAttestation)
	if f.AAGUIDAllow != nil {
		p.AAGUIDAllow = *f.AAGUIDAllow
	}
	if f.AAGUIDBlock != nil {
		p.AAGUIDBlock = *f.AAGUIDBlock
	}
}

// trustAnchors reads the file's trust anchors as PEM, inline or by path;
// an anchor that cannot be read is a problem and left out.
func trustAnchors(c *collector, list []string, readAnchor func(string) ([]byte, error)) []string {
	var pems []string
	for _, a := range list {
		pem, err := anchorPEM(a, readAnchor)
		if err != nil {
			c.add("trust_anchors", "%v", err)
			continue
		}
		pems = append(pems, pem)
	}
	return pems
}

// groups reads the [groups.NAME] tables, each over the default rules.
func groups(c *collector, md toml.MetaData, def policy.Rules, files map[string]*rulesFile) []policy.GroupRules {
	var gs []policy.GroupRules
	for _, k := range md.Keys() {
		// Groups apply in the order the file lists them; the decoded map
		// has none, so the order comes from the file's keys.
		if len(k) == 2 && k[0] == "groups" {
			g := policy.GroupRules{Group: k[1], Rules: rules(c, "groups."+k[1], def, files[k[1]])}
			gs = append(gs, g)
		}
	}
	return gs
}

// platformOnlyCredentials fits min_credentials to a policy with security
// keys off: 1 when the file leaves it out, a problem above 1.
func platformOnlyCredentials(c *collector, p *policy.Policy, minCredentials *int) {
	if !p.Platform.Enabled || p.Roaming.Enabled {
		return
	}
	// With security keys off a person can hold one credential here,
	// their passkey in this terminal's TPM: asking for more would nag
	// every session for a backup nobody can register.
	if minCredentials == nil {
		p.MinCredentials = 1
	} else if p.MinCredentials > 1 {
		c.add("min_credentials", "min_credentials: must be 1 while security keys (roaming) are off: a person has one passkey on this terminal, got %d", p.MinCredentials)
	}
}

// validatePolicy runs policy.Validate and files each of its errors under the
// file's key for the field at fault.
func validatePolicy(c *collector, p *policy.Policy) {
	err := p.Validate()
	if err == nil {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		field, msg, _ := strings.Cut(line, ": ")
		key := fileKey(field, *p)
		c.add(key, "%s: %s", key, msg)
	}
}

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](.*)$`)

// fileKey turns a field name from policy.Validate into the file's key.
func fileKey(field string, p policy.Policy) string {
	if field == "methods" {
		return "platform.enabled"
	}
	m := indexed.FindStringSubmatch(field)
	if m == nil {
		return field
	}
	i, _ := strconv.Atoi(m[2])
	rest := indexed.ReplaceAllString(strings.TrimPrefix(m[3], "."), "$1")
	if rest != "" {
		rest = "." + rest
	}
	switch {
	case m[1] == "groups" && i < len(p.Groups):
		return "groups." + p.Groups[i].Group + rest
	case m[1] == "places" && i < len(p.Places):
		return "places." + p.Places[i].Name + rest
	}
	if strings.HasPrefix(m[3], ".hours") {
		return m[1] + ".hours"
	}
	return m[1] + m[3]
}

func anchorPEM(a string, read func(string) ([]byte, error)) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(a), "-----BEGIN") {
		return strings.TrimSpace(a) + "\n", nil
	}
	if read == nil {
		return "", fmt.Errorf("trust anchor %q: only inline PEM is allowed here", a)
	}
	b, err := read(a)
	if err != nil {
		return "", fmt.Errorf("trust anchor %q: %v", a, err)
	}
	return strings.TrimSpace(string(b)) + "\n", nil
}

func setS(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func setB(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

func setI(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func method(m policy.Method, f *methodFile) policy.Method {
	if f == nil {
		return m
	}
	setB(&m.Enabled, f.Enabled)
	if f.Groups != nil {
		m.Groups = *f.Groups
	}
	return m
}

func rules(c *collector, table string, r policy.Rules, f *rulesFile) policy.Rules {
	if f == nil {
		return r
	}
	dur(c, table+".max_session", &r.MaxSession, f.MaxSession)
	dur(c, table+".idle_timeout", &r.IdleTimeout, f.IdleTimeout)
	dur(c, table+".idle_warning", &r.IdleWarning, f.IdleWarning)
	if f.Program != nil {
		r.Program = *f.Program
	}
	if f.Hours != nil {
		r.Hours = parseHours(c, table, *f.Hours)
	}
	return r
}

// parseHours reads a table's hours; a window that does not parse is a
// problem and left out.
func parseHours(c *collector, table string, list []string) []policy.Window {
	var ws []policy.Window
	for _, s := range list {
		w, err := ParseWindow(s)
		if err != nil {
			c.add(table+".hours", "%s.hours: %v", table, err)
			continue
		}
		ws = append(ws, w)
	}
	return ws
}

func lockout(c *collector, l policy.Lockout, f *lockoutFile) policy.Lockout {
	if f == nil {
		return l
	}
	setI(&l.MaxFailures, f.MaxFailures)
	setI(&l.Spike, f.Spike)
	setI(&l.PINSuspendAfter, f.PINSuspendAfter)
	dur(c, "lockout.window", &l.Window, f.Window)
	dur(c, "lockout.backoff", &l.Backoff, f.Backoff)
	dur(c, "lockout.max_backoff", &l.MaxBackoff, f.MaxBackoff)
	return l
}

func dur(c *collector, key string, dst *time.Duration, v *string) {
	if v == nil {
		return
	}
	d, err := time.ParseDuration(*v)
	if err != nil || d < 0 {
		c.add(key, "%s: %q is not a duration (write it like \"90s\", \"5m\" or \"8h30m\")", key, *v)
		return
	}
	*dst = d
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWindow reads a weekly window: "07:00-19:00" (every day),
// "mon-fri 07:00-19:00", "sat,sun 08:00-12:00" or "fri 22:00-06:00"
// (a night shift, which belongs to the day it starts on).
func ParseWindow(s string) (policy.Window, error) {
	var w policy.Window
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 2 {
		return w, fmt.Errorf("%q: write a window like \"mon-fri 07:00-19:00\" or \"22:00-06:00\"", s)
	}
	times := fields[len(fields)-1]
	if len(fields) == 2 {
		for _, part := range strings.Split(fields[0], ",") {
			from, to, isRange := strings.Cut(part, "-")
			a, err := parseDay(from)
			if err != nil {
				return w, fmt.Errorf("%q: %v", s, err)
			}
			b := a
			if isRange {
				if b, err = parseDay(to); err != nil {
					return w, fmt.Errorf("%q: %v", s, err)
				}
			}
			for d := a; ; d = (d + 1) % 7 {
				w.Days = append(w.Days, d)
				if d == b {
					break
				}
			}
		}
	}
	from, to, ok := strings.Cut(times, "-")
	var err1, err2 error
	if ok {
		w.From, err1 = parseClock(from, false)
		w.To, err2 = parseClock(to, true)
	}
	if !ok || err1 != nil || err2 != nil {
		return w, fmt.Errorf("%q: the times must read like 07:00-19:00 (24-hour clock)", s)
	}
	if w.From == w.To {
		return w, fmt.Errorf("%q: the window starts and ends at the same time", s)
	}
	return w, nil
}

func parseDay(s string) (time.Weekday, error) {
	s = strings.ToLower(s)
	for i, d := range dayNames {
		if s == d || (len(s) > 3 && strings.HasPrefix(time.Weekday(i).String(), strings.ToUpper(s[:1])+s[1:])) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun)", s)
}

func parseClock(s string, end bool) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !end)) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// FormatWindow writes a window the way ParseWindow reads it.
func FormatWindow(w policy.Window) string {
	clock := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	times := clock(w.From) + "-" + clock(w.To)
	if len(w.Days) == 0 {
		return times
	}
	// Runs of three days or more read as ranges: "mon-fri".
	var parts []string
	for i := 0; i < len(w.Days); {
		j := i
		for j+1 < len(w.Days) && w.Days[j+1] == (w.Days[j]+1)%7 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, dayNames[w.Days[i]]+"-"+dayNames[w.Days[j]])
		default:
			for k := i; k <= j; k++ {
				parts = append(parts, dayNames[w.Days[k]])
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",") + " " + times
}

// FormatDuration writes a duration without trailing zero units ("5m",
// "8h", "1h30m").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
