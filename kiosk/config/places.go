package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"passkiosk/kiosk/policy"
)

// placeFile is one [places.NAME] table of the policy file: what it
// matches and what it narrows. Keys it leaves out narrow nothing.
type placeFile struct {
	Match       *matchFile `toml:"match"`
	Groups      *[]string  `toml:"groups"`
	Hours       *[]string  `toml:"hours"`
	MaxSession  *string    `toml:"max_session"`
	IdleTimeout *string    `toml:"idle_timeout"`
	IdleWarning *string    `toml:"idle_warning"`
	Program     *[]string  `toml:"program"`
}

// matchFile is a place rule's match = { site, ward, labels = { … } }.
// A key other than these three is an unknown key, reported with the one
// it is probably a typo of.
type matchFile struct {
	Site   string            `toml:"site"`
	Ward   string            `toml:"ward"`
	Labels map[string]string `toml:"labels"`
}

// places reads the [places.NAME] tables in the file's order: place rules
// all apply, and the first that names a program wins, so order matters.
func places(c *collector, md toml.MetaData, files map[string]*placeFile) []policy.PlaceRules {
	var out []policy.PlaceRules
	for _, k := range md.Keys() {
		if len(k) != 2 || k[0] != "places" || files[k[1]] == nil {
			continue
		}
		f, table := files[k[1]], "places."+k[1]
		pr := policy.PlaceRules{Name: k[1]}
		if f.Match != nil {
			pr.Match = policy.Match{Site: f.Match.Site, Ward: f.Match.Ward, Labels: f.Match.Labels}
		}
		if f.Groups != nil {
			pr.Groups = *f.Groups
		}
		if f.Hours != nil {
			pr.Hours = parseHours(c, table, *f.Hours)
		}
		dur(c, table+".max_session", &pr.MaxSession, f.MaxSession)
		dur(c, table+".idle_timeout", &pr.IdleTimeout, f.IdleTimeout)
		dur(c, table+".idle_warning", &pr.IdleWarning, f.IdleWarning)
		if f.Program != nil {
			pr.Program = *f.Program
		}
		out = append(out, pr)
	}
	return out
}

// renderPlaces writes the place rules as [places.NAME] tables, only the
// keys each rule sets.
func renderPlaces(b *strings.Builder, ps []policy.PlaceRules) {
	for _, pr := range ps {
		fmt.Fprintf(b, "\n[places.%s]\n", quoteKey(pr.Name))
		fmt.Fprintf(b, "match = %s\n", renderMatch(pr.Match))
		if len(pr.Groups) > 0 {
			fmt.Fprintf(b, "groups = %s\n", list(pr.Groups))
		}
		if len(pr.Hours) > 0 {
			hours := make([]string, len(pr.Hours))
			for i, w := range pr.Hours {
				hours[i] = FormatWindow(w)
			}
			fmt.Fprintf(b, "hours = %s\n", list(hours))
		}
		for _, d := range []struct {
			key string
			v   time.Duration
		}{{"max_session", pr.MaxSession}, {"idle_timeout", pr.IdleTimeout}, {"idle_warning", pr.IdleWarning}} {
			if d.v > 0 {
				fmt.Fprintf(b, "%s = %s\n", d.key, quote(FormatDuration(d.v)))
			}
		}
		if len(pr.Program) > 0 {
			fmt.Fprintf(b, "program = %s\n", list(pr.Program))
		}
	}
}

// renderMatch writes a match as an inline table, labels sorted.
func renderMatch(m policy.Match) string {
	var parts []string
	if m.Site != "" {
		parts = append(parts, "site = "+quote(m.Site))
	}
	if m.Ward != "" {
		parts = append(parts, "ward = "+quote(m.Ward))
	}
	if len(m.Labels) > 0 {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			ls = append(ls, quoteKey(k)+" = "+quote(m.Labels[k]))
		}
		parts = append(parts, "labels = { "+strings.Join(ls, ", ")+" }")
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// Place is the [place] section of a terminal's configuration: where it
// stands, for the policy's place rules. A fleet terminal takes its place
// from the directory's inventory (passkioskctl fleet terminal set) once
// its mirror holds a record for it; until then, and on a terminal on its
// own, this section is its place.
type Place struct {
	Site   string            `toml:"site"`
	Ward   string            `toml:"ward"`
	Labels map[string]string `toml:"labels"`
}

// Policy is the place as the policy matches it.
func (p Place) Policy() policy.Place {
	return policy.Place{Site: p.Site, Ward: p.Ward, Labels: p.Labels}
}

// validate checks the site, the ward and every label as the fleet's
// inventory does.
func (p Place) validate(c *collector) {
	for key, v := range map[string]string{"place.site": p.Site, "place.ward": p.Ward} {
		if err := policy.ValidLabel("x", v); err != nil {
			c.add(key, "%s = %q: must be printable and at most 128 bytes", key, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		if err := policy.ValidLabel(k, p.Labels[k]); err != nil {
			c.add("place.labels."+k, "place.labels: %v", err)
		}
	}
}
