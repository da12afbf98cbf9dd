// Package policy is the appliance's authentication-methods policy and
// conditional rules: which authenticators may be used (per group, for
// pilot rollouts), which authenticator models (AAGUID allow and block
// lists, attestation with trust anchors), user verification, PIN length,
// how many credentials a person should have, per-group rules (hours,
// session length, idle timeout, the session program), place rules that
// narrow them on the terminals whose site, ward or labels they match
// (place.go, RulesAt), plus lockout and backoff after failures.
//
// Decisions here are pure functions of the policy, the person and the
// time; the engine calls them and audits the outcome. It imports only the
// standard library and kiosk.
package policy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"passkiosk/kiosk"
)

// Policy is one version of the policy.
type Policy struct {
	Version int

	// RPID is the relying-party ID credentials are scoped to, and Origin
	// the origin the kiosk puts in client data. RPName is shown by keys.
	RPID   string
	RPName string
	Origin string

	Platform Method // TPM passkeys on this terminal
	Roaming  Method // USB security keys

	// AAGUIDAllow, when not empty, lists the only security-key models
	// allowed; AAGUIDBlock lists models refused. Both are checked at
	// enrollment and at every sign-in with a security key. The platform
	// authenticator is this appliance's own TPM, switched by Platform.
	AAGUIDAllow []string
	AAGUIDBlock []string

	// RequireAttestation refuses security keys whose attestation does not
	// chain to one of TrustAnchors (PEM certificates).
	RequireAttestation bool
	TrustAnchors       []string

	// RequireUV requires user verification (PIN or fingerprint) at every
	// sign-in and enrollment. Validate refuses false: on a shared terminal
	// a touch proves only that someone holds the key, not who they are.
	// (Tapping the key to sign out needs no UV: it ends a session, it
	// opens none.)
	RequireUV bool
	// MinPINLength is the shortest PIN for a platform passkey.
	MinPINLength int
	// MinCredentials is how many credentials a person should have; fewer
	// and the session screen suggests registering a backup.
	MinCredentials int
	// ShowTiles shows recent users on the lock screen. Off for privacy.
	ShowTiles bool
	// KeyRemovalEndsSession ends a session signed in with a security key
	// when that key is pulled out.
	KeyRemovalEndsSession bool
	// KeyTapEndsSession ends a session signed in with a security key when
	// that key is touched again: while the session runs, the key blinks
	// waiting for a touch, and the touch is verified as an assertion of
	// the same credential.
	KeyTapEndsSession bool

	// Default applies to people in none of Groups.
	Default Rules
	// Groups apply in order: a person gets the rules of the first group
	// here that they belong to.
	Groups []GroupRules
	// Places narrow those rules on the terminals they match (RulesAt).
	Places []PlaceRules

	Lockout Lockout

	anchors *x509.CertPool
}

// Method is an authentication method's switch, with an optional pilot
// group list.
type Method struct {
	Enabled bool
	// Groups, when not empty, limits the method to members of these
	// groups (pilot rollout).
	Groups []string
}

// GroupRules are the rules for one group.
type GroupRules struct {
	Group string
	Rules
}

// Rules are conditional rules for a person.
type Rules struct {
	// Hours, when not empty, are the only times sign-in is allowed; a
	// session ends where they end (SessionLimit).
	Hours       []Window
	MaxSession  time.Duration
	IdleTimeout time.Duration
	// IdleWarning is how long before the idle timeout the warning shows.
	IdleWarning time.Duration
	Program     []string
	// PlaceHours are the hours of the place rules that matched the
	// terminal (RulesAt): sign-in needs every one of them to allow it as
	// well as Hours. Never set in a policy file's rules.
	PlaceHours [][]Window
}

// Window is a weekly time window. From after To crosses midnight (a night
// shift 22:00–06:00 belongs to the day it starts on).
type Window struct {
	Days []time.Weekday // empty means every day
	From time.Duration  // since midnight
	To   time.Duration
}

// Lockout is what happens after failed sign-ins: after MaxFailures within
// Window, each further failure doubles a backoff starting at Backoff, up
// to MaxBackoff; Spike failures within Window across the terminal raise an
// audit "spike" event.
//
// Wrong TPM PINs are also counted per person in a row, across any time and
// a restart: from MaxFailures in a row the person backs off the same way,
// and at PINSuspendAfter their passkey on this terminal is suspended until
// IT lifts it or they sign in with another credential. Both stay far below
// the TPM's own limit, which is one for the whole chip.
type Lockout struct {
	MaxFailures int
	Window      time.Duration
	Backoff     time.Duration
	MaxBackoff  time.Duration
	Spike       int
	// PINSuspendAfter is the wrong TPM PINs in a row that suspend a
	// person's passkey on this terminal; 0 means DefaultPINSuspendAfter.
	PINSuspendAfter int
}

// DefaultPINSuspendAfter is Lockout.PINSuspendAfter when not set.
const DefaultPINSuspendAfter = 10

// SuspendAfter is PINSuspendAfter, or its default.
func (l Lockout) SuspendAfter() int {
	if l.PINSuspendAfter <= 0 {
		return DefaultPINSuspendAfter
	}
	return l.PINSuspendAfter
}

// PINBackoff is how long a person with count wrong TPM PINs in a row, the
// last at last, waits before the next try: nothing below MaxFailures,
// then Backoff doubling with each further one, up to MaxBackoff. It
// returns the zero time when no wait is due.
func (l Lockout) PINBackoff(count int, last time.Time) time.Time {
	over := count - l.MaxFailures
	if over < 0 || l.Backoff <= 0 {
		return time.Time{}
	}
	d := l.Backoff
	for i := 0; i < over && d < l.MaxBackoff; i++ {
		d *= 2
	}
	return last.Add(min(d, max(l.MaxBackoff, l.Backoff)))
}

// Default is the policy a new appliance starts with: both methods on,
// UV required, PIN of at least 6 digits, a backup credential suggested,
// 8-hour sessions ending after 5 idle minutes with a 60-second warning.
func Default() Policy {
	return Policy{
		Version: 1,
		RPID:    "passkiosk.local", RPName: "passkiosk", Origin: "https://passkiosk.local",
		Platform: Method{Enabled: true}, Roaming: Method{Enabled: true},
		RequireUV: true, MinPINLength: 6, MinCredentials: 2, ShowTiles: true,
		KeyRemovalEndsSession: true, KeyTapEndsSession: true,
		Default: Rules{
			MaxSession: 8 * time.Hour, IdleTimeout: 5 * time.Minute, IdleWarning: 60 * time.Second,
			Program: []string{"/bin/sh", "-c", "exec sleep infinity"},
		},
		Lockout: Lockout{MaxFailures: 5, Window: 15 * time.Minute, Backoff: 30 * time.Second, MaxBackoff: 15 * time.Minute, Spike: 20,
			PINSuspendAfter: DefaultPINSuspendAfter},
	}
}

// Validate checks the policy and prepares its trust anchors. Errors name
// the field at fault.
func (p *Policy) Validate() error {
	var ps problems
	p.validateRelyingParty(&ps)
	if !p.Platform.Enabled && !p.Roaming.Enabled {
		ps.add("methods", "at least one of platform and roaming must be enabled")
	}
	p.validateAAGUIDs(&ps)
	p.validateRequirements(&ps)
	p.validateAttestation(&ps)
	p.validateGroups(&ps)
	p.validatePlaces(&ps)
	p.validatePilotGroups(&ps)
	p.Lockout.validate(&ps)
	return errors.Join(ps...)
}

// problems collects what Validate finds wrong, each error starting with
// the field at fault.
type problems []error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// validateRelyingParty checks the RP ID and the origin that goes with it.
func (p *Policy) validateRelyingParty(ps *problems) {
	if p.RPID == "" || strings.ContainsAny(p.RPID, "/: ") {
		ps.add("rp_id", "must be a domain name like passkiosk.local, got %q", p.RPID)
	}
	if !strings.HasPrefix(p.Origin, "https://") {
		ps.add("origin", "must start with https://, got %q", p.Origin)
	} else if msg := originMismatch(p.Origin, p.RPID); msg != "" {
		ps.add("origin", "%s", msg)
	}
}

// validateAAGUIDs checks the allow and block lists: every entry an
// AAGUID, and no model on both.
func (p *Policy) validateAAGUIDs(ps *problems) {
	for i, s := range p.AAGUIDAllow {
		if _, err := ParseAAGUID(s); err != nil {
			ps.add(fmt.Sprintf("aaguid_allow[%d]", i), "%v", err)
		}
	}
	for i, s := range p.AAGUIDBlock {
		if _, err := ParseAAGUID(s); err != nil {
			ps.add(fmt.Sprintf("aaguid_block[%d]", i), "%v", err)
		}
	}
	// A model on both lists is blocked, which is surely not what the
	// administrator who allowed it meant: say so instead of choosing.
	for i, s := range p.AAGUIDBlock {
		b, err := ParseAAGUID(s)
		if err == nil && slices.ContainsFunc(p.AAGUIDAllow, func(a string) bool { x, err := ParseAAGUID(a); return err == nil && x == b }) {
			ps.add(fmt.Sprintf("aaguid_block[%d]", i), "%s is also in aaguid_allow; a model must be on one list only", FormatAAGUID(b))
		}
	}
}

// validateRequirements checks what is asked of a person: user
// verification, the PIN's length and how many credentials they should
// have.
func (p *Policy) validateRequirements(ps *problems) {
	if !p.RequireUV {
		ps.add("require_uv", "must be true: a touch alone does not show who is signing in, so every sign-in needs a PIN or a fingerprint")
	}
	if p.MinPINLength < 4 || p.MinPINLength > 63 {
		ps.add("min_pin_length", "must be 4..63, got %d", p.MinPINLength)
	}
	switch {
	case p.MinCredentials < 1:
		ps.add("min_credentials", "must be at least 1, got %d", p.MinCredentials)
	case p.MinCredentials > MaxMinCredentials:
		ps.add("min_credentials", "must be at most %d, got %d", MaxMinCredentials, p.MinCredentials)
	}
}

// validateAttestation parses the trust anchors into the pool
// TrustAnchorPool returns, and checks that required attestation has
// anchors to chain to.
func (p *Policy) validateAttestation(ps *problems) {
	p.anchors = nil
	if len(p.TrustAnchors) > 0 {
		p.anchors = x509.NewCertPool()
		for i, pem := range p.TrustAnchors {
			if !p.anchors.AppendCertsFromPEM([]byte(pem)) {
				ps.add(fmt.Sprintf("trust_anchors[%d]", i), "not a PEM certificate")
			}
		}
	}
	if p.RequireAttestation && len(p.TrustAnchors) == 0 {
		ps.add("require_attestation", "needs trust_anchors")
	}
}

// validateGroups checks the default rules and each group's.
func (p *Policy) validateGroups(ps *problems) {
	p.Default.validate(ps, "default")
	for i, g := range p.Groups {
		if g.Group == "" {
			ps.add(fmt.Sprintf("groups[%d].group", i), "must name a group")
		}
		g.Rules.validate(ps, fmt.Sprintf("groups[%d]", i))
	}
}

// validate checks one set of rules; field names them in errors.
func (r Rules) validate(ps *problems, field string) {
	if r.MaxSession <= 0 {
		ps.add(field+".max_session", "must be positive")
	}
	if r.IdleTimeout <= 0 {
		ps.add(field+".idle_timeout", "must be positive")
	}
	if r.IdleWarning < 0 || r.IdleWarning >= r.IdleTimeout {
		ps.add(field+".idle_warning", "must be shorter than idle_timeout")
	}
	validateProgram(ps, field, r.Program, true)
	validateHours(ps, field, r.Hours)
}

// validateProgram checks a session program: required says it must be
// given.
func validateProgram(ps *problems, field string, program []string, required bool) {
	if len(program) == 0 {
		if required {
			ps.add(field+".program", "must name the session program")
		}
	} else if !path.IsAbs(program[0]) {
		// The session manager runs the program without a search path
		// (the session's PATH is not the appliance's), so a bare name
		// fails at every sign-in while the terminal looks in service.
		ps.add(field+".program", "must start with an absolute path like /usr/bin/chromium, got %q", program[0])
	}
}

// validateHours checks that every window lies within a day.
func validateHours(ps *problems, field string, hours []Window) {
	for i, w := range hours {
		if w.From < 0 || w.From >= 24*time.Hour || w.To <= 0 || w.To > 24*time.Hour || w.From == w.To {
			ps.add(fmt.Sprintf("%s.hours[%d]", field, i), "must be a window within a day, got %v-%v", w.From, w.To)
		}
	}
}

// validatePilotGroups checks that each method's pilot groups are groups
// the policy has rules for: a name no rule defines is most likely a typo
// that turns the method off for everyone.
func (p *Policy) validatePilotGroups(ps *problems) {
	for _, m := range []struct {
		field string
		m     Method
	}{{"platform.groups", p.Platform}, {"roaming.groups", p.Roaming}} {
		for _, g := range m.m.Groups {
			if !slices.ContainsFunc(p.Groups, func(r GroupRules) bool { return r.Group == g }) {
				ps.add(m.field, "pilot group %q has no [groups.%s] rules; define it or remove it", g, g)
			}
		}
	}
}

// validate checks the failure limits, the backoff and the PIN suspension.
func (l Lockout) validate(ps *problems) {
	if l.MaxFailures < 1 || l.Window <= 0 || l.Backoff <= 0 || l.MaxBackoff < l.Backoff {
		ps.add("lockout", "needs max_failures ≥ 1, a window, and 0 < backoff ≤ max_backoff")
	}
	if l.PINSuspendAfter < 0 || l.PINSuspendAfter > 1000 {
		ps.add("lockout.pin_suspend_after", "must be 1 to 1000, got %d", l.PINSuspendAfter)
	}
}

// MaxMinCredentials bounds min_credentials: nobody carries more backup
// authenticators than this, and a higher number only nags every session.
const MaxMinCredentials = 10

// originMismatch says why origin cannot go with rpID, or "". WebAuthn
// §5.1.3 (create) and §5.1.4.1 (get): the RP ID must be the origin's
// effective domain or a registrable suffix of it, so the origin's host is
// the RP ID itself or one of its subdomains.
func originMismatch(origin, rpID string) string {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("must be an origin like https://%s (scheme and host only), got %q", rpID, origin)
	}
	host := strings.ToLower(u.Hostname())
	rp := strings.ToLower(rpID)
	if host != rp && !strings.HasSuffix(host, "."+rp) {
		return fmt.Sprintf("host %q is neither rp_id %q nor a subdomain of it (WebAuthn §5.1.3)", host, rpID)
	}
	return ""
}

// TrustAnchors returns the parsed anchors (after Validate), or nil.
func (p *Policy) TrustAnchorPool() *x509.CertPool { return p.anchors }

// MethodAllowed reports whether a person in groups may use the method.
func (p *Policy) MethodAllowed(a kiosk.Attachment, groups []string) error {
	m, name := p.Roaming, "security keys"
	if a == kiosk.AttachPlatform {
		m, name = p.Platform, "passkeys on this terminal"
	}
	if !m.Enabled {
		return kiosk.Errorf(kiosk.KindPolicy, "policy", "%s are turned off", name)
	}
	if len(m.Groups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(m.Groups, g) }) {
		return kiosk.Errorf(kiosk.KindPolicy, "policy", "%s are not enabled for your groups yet", name)
	}
	return nil
}

// AAGUIDAllowed checks an authenticator model against the allow and block
// lists.
func (p *Policy) AAGUIDAllowed(aaguid [16]byte) error {
	matches := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { a, err := ParseAAGUID(s); return err == nil && a == aaguid })
	}
	if matches(p.AAGUIDBlock) {
		return kiosk.Errorf(kiosk.KindPolicy, "policy", "this authenticator model (%s) is blocked", FormatAAGUID(aaguid))
	}
	if len(p.AAGUIDAllow) > 0 && !matches(p.AAGUIDAllow) {
		return kiosk.Errorf(kiosk.KindPolicy, "policy", "this authenticator model (%s) is not on the allowed list", FormatAAGUID(aaguid))
	}
	return nil
}

// RulesFor returns the rules of the first policy group the person is in,
// or Default.
func (p *Policy) RulesFor(groups []string) Rules {
	for _, g := range p.Groups {
		if slices.Contains(groups, g.Group) {
			return g.Rules
		}
	}
	return p.Default
}

// AllowedAt reports whether sign-in is allowed at t (in t's location):
// within Hours, and within every set of PlaceHours.
func (r Rules) AllowedAt(t time.Time) bool {
	if !hours(r.Hours).allows(t) {
		return false
	}
	for _, h := range r.PlaceHours {
		if !hours(h).allows(t) {
			return false
		}
	}
	return true
}

// SessionLimit is how long a session that starts at t may last: MaxSession,
// cut short where the person's allowed hours end (windows that follow on
// without a gap count as one), and 0 outside them. A porter allowed
// 07:00–19:00 who signs in at 18:30 gets 30 minutes, not eight hours. A
// place's hours cut it the same way: the session ends where the first of
// the sets of hours ends.
func (r Rules) SessionLimit(t time.Time) time.Duration {
	if !r.AllowedAt(t) {
		return 0
	}
	limit := hours(r.Hours).limit(t, r.MaxSession)
	for _, h := range r.PlaceHours {
		limit = min(limit, hours(h).limit(t, r.MaxSession))
	}
	return limit
}

// hours is one set of weekly windows; empty allows every time.
type hours []Window

// allows reports whether t falls in one of the windows.
func (hs hours) allows(t time.Time) bool {
	if len(hs) == 0 {
		return true
	}
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	since := t.Sub(midnight)
	yesterday := midnight.AddDate(0, 0, -1).Weekday()
	for _, w := range hs {
		onDay := func(d time.Weekday) bool { return len(w.Days) == 0 || slices.Contains(w.Days, d) }
		if w.From < w.To {
			if onDay(t.Weekday()) && since >= w.From && since < w.To {
				return true
			}
			continue
		}
		// Crosses midnight: the evening part today, or the morning part of
		// a window that started yesterday.
		if (onDay(t.Weekday()) && since >= w.From) || (onDay(yesterday) && since < w.To) {
			return true
		}
	}
	return false
}

// limit is how long from t, up to most, the windows stay open without a
// gap; t must be allowed.
func (hs hours) limit(t time.Time, most time.Duration) time.Duration {
	if len(hs) == 0 {
		return most
	}
	end := t
	// Each step moves to the end of the latest window open at end; eight
	// days of steps cover any weekly pattern.
	for i := 0; i < 64 && end.Sub(t) < most && hs.allows(end); i++ {
		next := hs.windowEnd(end)
		if !next.After(end) {
			break
		}
		end = next
	}
	return min(end.Sub(t), most)
}

// windowEnd is the latest end of the windows open at t.
func (hs hours) windowEnd(t time.Time) time.Time {
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	tomorrow := midnight.AddDate(0, 0, 1)
	since := t.Sub(midnight)
	yesterday := midnight.AddDate(0, 0, -1).Weekday()
	var end time.Time
	later := func(e time.Time) {
		if e.After(end) {
			end = e
		}
	}
	for _, w := range hs {
		onDay := func(d time.Weekday) bool { return len(w.Days) == 0 || slices.Contains(w.Days, d) }
		switch {
		case w.From < w.To:
			if onDay(t.Weekday()) && since >= w.From && since < w.To {
				later(midnight.Add(w.To))
			}
		case onDay(t.Weekday()) && since >= w.From:
			later(tomorrow.Add(w.To))
		case onDay(yesterday) && since < w.To:
			later(midnight.Add(w.To))
		}
	}
	return end
}

// ParseAAGUID reads an AAGUID in 8-4-4-4-12 form (dashes optional).
func ParseAAGUID(s string) ([16]byte, error) {
	a, err := kiosk.ParseAAGUID(s)
	if err != nil {
		return a, fmt.Errorf("%q is not an AAGUID (32 hex digits, dashes allowed)", s)
	}
	return a, nil
}

// FormatAAGUID writes an AAGUID in 8-4-4-4-12 form.
func FormatAAGUID(a [16]byte) string { return kiosk.AAGUID(a).String() }
