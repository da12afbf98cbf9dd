package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk/policy"
)

// The example policy's place rules read in the file's order, render to
// canonical TOML and read back to the same text.
func TestPlaceRulesReadAndRenderBack(t *testing.T) {
	p, err := LoadPolicy("testdata/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Places) != 2 || p.Places[0].Name != "icu" || p.Places[1].Name != "north-desks" {
		t.Fatalf("places %+v", p.Places)
	}
	icu, desks := p.Places[0], p.Places[1]
	if icu.Match.Ward != "icu" || icu.MaxSession != 2*time.Hour || len(icu.Hours) != 1 || icu.Hours[0].To != 18*time.Hour ||
		icu.IdleTimeout != 0 || icu.Program[0] != "/usr/bin/chromium" {
		t.Errorf("icu %+v", icu)
	}
	if desks.Match.Site != "north" || desks.Match.Labels["kind"] != "desk" || desks.IdleTimeout != time.Minute {
		t.Errorf("north-desks %+v", desks)
	}
	text := RenderPolicy(p)
	if !strings.Contains(string(text), "[places.north-desks]\nmatch = { site = \"north\", labels = { kind = \"desk\" } }\nidle_timeout = \"1m\"\nidle_warning = \"20s\"\n") {
		t.Errorf("rendered as:\n%s", text)
	}
	back, err := ParsePolicy("canonical.toml", text, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if string(RenderPolicy(back)) != string(text) {
		t.Fatalf("render is not stable:\n%s\n---\n%s", text, RenderPolicy(back))
	}
	r := back.RulesAt([]string{"nurses"}, policy.Place{Ward: "icu"})
	if r.IdleTimeout != 2*time.Minute || r.MaxSession != 2*time.Hour || !slices.Contains(r.Program, "https://icu.example-hospital.org") {
		t.Errorf("a nurse on the ICU gets %+v", r)
	}
}

func TestPlaceRuleErrorsNameTheLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"typo in match", "[places.icu]\nmatch = { wrd = \"icu\" }\n",
			[]string{`policy.toml:2: unknown key "wrd" in [places.icu.match] (did you mean ward?)`,
				`policy.toml:2: places.icu.match: must name a site, a ward or labels`}},
		{"typo in a rule", "[places.icu]\nmatch = { ward = \"icu\" }\nmax_sesion = \"1h\"\n",
			[]string{`policy.toml:3: unknown key "max_sesion" in [places.icu] (did you mean max_session?)`}},
		{"no match", "[places.everywhere]\nmax_session = \"1h\"\n",
			[]string{`policy.toml:1: places.everywhere.match: must name a site, a ward or labels, like match = { ward = "icu" }`}},
		{"bad label key", "[places.third]\nmatch = { labels = { \"floor 3\" = \"yes\" } }\n",
			[]string{`policy.toml:2: places.third.match.labels: label "floor 3": letters, digits, '.', '_' and '-' only`}},
		{"relative program", "\n[places.icu]\nmatch = { ward = \"icu\" }\nprogram = [\"chart\"]\n",
			[]string{`policy.toml:4: places.icu.program: must start with an absolute path`}},
		{"bad hours", "[places.icu]\nmatch = { ward = \"icu\" }\nhours = [\"9-5\"]\n",
			[]string{`policy.toml:3: places.icu.hours: "9-5": the times must read like 07:00-19:00`}},
		{"label of the wrong type", "[places.icu]\nmatch = { labels = { floor = 3 } }\n",
			[]string{`policy.toml:2: `}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("policy.toml", []byte(tc.text), nil)
			ps := ProblemsOf(err)
			if len(ps) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %q", ps, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(ps[i].String(), w) {
					t.Errorf("problem %d:\n%q\nwant prefix\n%q", i, ps[i].String(), w)
				}
			}
		})
	}
}

// A terminal on its own carries its place in its configuration.
func TestConfigPlace(t *testing.T) {
	c, err := Parse("c.toml", []byte("[place]\nsite = \"north\"\nward = \"icu\"\nlabels = { floor = \"3\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Place.Policy(); got.String() != "site=north ward=icu floor=3" {
		t.Errorf("place %q", got)
	}
	_, err = Parse("c.toml", []byte("[place]\nward = \"icu\"\n[place.labels]\n\"bed side\" = \"yes\"\n"))
	if ps := ProblemsOf(err); len(ps) != 1 || !strings.HasPrefix(ps[0].String(), `c.toml:4: place.labels: label "bed side"`) {
		t.Errorf("problems %v", ps)
	}
	_, err = Parse("c.toml", []byte("[place]\nwrd = \"icu\"\n"))
	if ps := ProblemsOf(err); len(ps) != 1 || !strings.Contains(ps[0].String(), "did you mean ward?") {
		t.Errorf("problems %v", ps)
	}
}
