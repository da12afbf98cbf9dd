package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Place is where a terminal stands: its site, its ward and any other
// labels IT gave it (a fleet terminal's inventory record in the
// directory, or the [place] section of a terminal's own configuration).
// The zero Place matches only rules that ask for nothing.
type Place struct {
	Site   string
	Ward   string
	Labels map[string]string
}

// String writes the place for audit entries and logs: "site=north
// ward=icu floor=3", labels sorted; "" for the zero place.
func (p Place) String() string {
	var parts []string
	if p.Site != "" {
		parts = append(parts, "site="+p.Site)
	}
	if p.Ward != "" {
		parts = append(parts, "ward="+p.Ward)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		parts = append(parts, k+"="+p.Labels[k])
	}
	return strings.Join(parts, " ")
}

// Match is what a place rule asks of a terminal's place: every field
// given must be equal (labels: each key present with that value); a
// field left empty matches anything. Validate refuses a Match that asks
// for nothing, which would be a second [default].
type Match struct {
	Site   string
	Ward   string
	Labels map[string]string
}

// Matches reports whether the place satisfies m.
func (m Match) Matches(p Place) bool {
	if m.Site != "" && m.Site != p.Site {
		return false
	}
	if m.Ward != "" && m.Ward != p.Ward {
		return false
	}
	for k, v := range m.Labels {
		if got, ok := p.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (m Match) empty() bool { return m.Site == "" && m.Ward == "" && len(m.Labels) == 0 }

// PlaceRules narrow the rules of people signing in at the terminals a
// Match selects. Unlike a group's Rules, every field is optional: zero
// leaves the person's rule as it is.
type PlaceRules struct {
	// Name is the rule's name in the policy file ([places.NAME]).
	Name  string
	Match Match
	// Groups, when not empty, limits the rule to people in one of them.
	Groups []string
	// Hours, when not empty, are the only times sign-in is allowed here,
	// on top of the person's own hours.
	Hours       []Window
	MaxSession  time.Duration
	IdleTimeout time.Duration
	IdleWarning time.Duration
	// Program, when set, replaces the person's session program here.
	Program []string
}

// appliesTo reports whether the rule is for a person in groups at place.
func (r PlaceRules) appliesTo(groups []string, place Place) bool {
	if !r.Match.Matches(place) {
		return false
	}
	return len(r.Groups) == 0 || slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(r.Groups, g) })
}

// RulesAt returns the rules of a person in groups signing in at place:
// their group's rules (RulesFor), narrowed by every place rule that
// matches the place and the person, in the policy's order.
//
// Precedence: a place never grants what the person's group does not.
// Hours: sign-in is allowed only when the person's hours and the hours
// of every matching place rule all allow it, and a session ends where
// the first of them ends. max_session, idle_timeout and idle_warning:
// the shortest of the person's and the matching rules'; a warning that
// would not come before the idle timeout is cut to half of it. program:
// the first matching rule that names one replaces the group's (a ward's
// charting program for everyone who signs in on the ward).
func (p *Policy) RulesAt(groups []string, place Place) Rules {
	r := p.RulesFor(groups)
	r.Hours = slices.Clone(r.Hours)
	r.PlaceHours = slices.Clone(r.PlaceHours)
	program := false
	for _, pr := range p.Places {
		if !pr.appliesTo(groups, place) {
			continue
		}
		if len(pr.Hours) > 0 {
			r.PlaceHours = append(r.PlaceHours, pr.Hours)
		}
		r.MaxSession = shorter(r.MaxSession, pr.MaxSession)
		r.IdleTimeout = shorter(r.IdleTimeout, pr.IdleTimeout)
		r.IdleWarning = shorter(r.IdleWarning, pr.IdleWarning)
		if len(pr.Program) > 0 && !program {
			r.Program, program = pr.Program, true
		}
	}
	if r.IdleWarning >= r.IdleTimeout {
		r.IdleWarning = r.IdleTimeout / 2
	}
	return r
}

// shorter is the shorter of a and b, where b ≤ 0 means not set.
func shorter(a, b time.Duration) time.Duration {
	if b > 0 && b < a {
		return b
	}
	return a
}

// validatePlaces checks each place rule: it selects something, names
// labels as a terminal's labels are named, and what it sets is sound.
func (p *Policy) validatePlaces(ps *problems) {
	for i, pr := range p.Places {
		field := fmt.Sprintf("places[%d]", i)
		if pr.Name == "" {
			ps.add(field, "must have a name")
		}
		if pr.Match.empty() {
			ps.add(field+".match", "must name a site, a ward or labels, like match = { ward = \"icu\" }; rules for every terminal go in [default]")
		}
		for _, k := range slices.Sorted(maps.Keys(pr.Match.Labels)) {
			if err := ValidLabel(k, pr.Match.Labels[k]); err != nil {
				ps.add(field+".match.labels", "%v", err)
			}
		}
		for _, g := range pr.Groups {
			if g == "" {
				ps.add(field+".groups", "must not hold an empty group name")
			}
		}
		pr.validateLimits(ps, field)
	}
}

// validateLimits checks the durations, the hours and the program a place
// rule sets.
func (pr PlaceRules) validateLimits(ps *problems, field string) {
	for name, d := range map[string]time.Duration{"max_session": pr.MaxSession, "idle_timeout": pr.IdleTimeout, "idle_warning": pr.IdleWarning} {
		if d < 0 {
			ps.add(field+"."+name, "must be positive, got %v", d)
		}
	}
	if pr.IdleTimeout > 0 && pr.IdleWarning >= pr.IdleTimeout {
		ps.add(field+".idle_warning", "must be shorter than idle_timeout")
	}
	validateHours(ps, field, pr.Hours)
	validateProgram(ps, field, pr.Program, false)
}

// ValidLabel says whether k=v can be a terminal's label: the key 1 to 64
// letters, digits, '.', '_' or '-', the value printable and at most 128
// bytes. The fleet's inventory and the policy's place rules check labels
// with it, so a rule can never ask for a label no terminal can carry.
func ValidLabel(k, v string) error {
	if k == "" || len(k) > 64 || strings.ContainsFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r))
	}) {
		return fmt.Errorf("label %q: letters, digits, '.', '_' and '-' only, 1 to 64 of them", k)
	}
	if len(v) > 128 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("label %s: the value must be printable and at most 128 bytes", k)
	}
	return nil
}
