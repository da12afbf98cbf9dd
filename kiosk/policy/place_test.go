package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMatchAsksForEveryFieldItNames(t *testing.T) {
	icu3 := Place{Site: "north", Ward: "icu", Labels: map[string]string{"floor": "3", "kind": "bedside"}}
	cases := []struct {
		m    Match
		p    Place
		want bool
	}{
		{Match{Ward: "icu"}, icu3, true},
		{Match{Ward: "ICU"}, icu3, false}, // exact, as the inventory spells it
		{Match{Site: "north", Ward: "icu"}, icu3, true},
		{Match{Site: "south", Ward: "icu"}, icu3, false},
		{Match{Labels: map[string]string{"floor": "3"}}, icu3, true},
		{Match{Labels: map[string]string{"floor": "3", "kind": "desk"}}, icu3, false},
		{Match{Labels: map[string]string{"wing": ""}}, icu3, false}, // a label asked for must be there
		{Match{Ward: "icu"}, Place{}, false},
		{Match{}, Place{}, true},
	}
	for i, c := range cases {
		if got := c.m.Matches(c.p); got != c.want {
			t.Errorf("case %d: %+v matches %+v = %v, want %v", i, c.m, c.p, got, c.want)
		}
	}
}

// placePolicy has nurses on 07:00–19:00 with 8 h sessions, and two place
// rules: the ICU closes at 18:00, keeps sessions to 2 h and runs its own
// program; the north site's shared desks time out idle after a minute.
func placePolicy(t *testing.T) Policy {
	t.Helper()
	p := Default()
	nurses := p.Default
	nurses.Hours = []Window{{From: 7 * time.Hour, To: 19 * time.Hour}}
	p.Groups = []GroupRules{{Group: "nurses", Rules: nurses}}
	p.Places = []PlaceRules{
		{Name: "icu", Match: Match{Ward: "icu"}, Hours: []Window{{From: 6 * time.Hour, To: 18 * time.Hour}},
			MaxSession: 2 * time.Hour, Program: []string{"/usr/bin/icu-chart"}},
		{Name: "desks", Match: Match{Site: "north", Labels: map[string]string{"kind": "desk"}}, IdleTimeout: time.Minute,
			Program: []string{"/usr/bin/other"}},
		{Name: "porters", Match: Match{Ward: "icu"}, Groups: []string{"porters"}, MaxSession: 10 * time.Minute},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlaceRulesNarrowTheGroupsRules(t *testing.T) {
	p := placePolicy(t)
	icu := Place{Site: "north", Ward: "icu", Labels: map[string]string{"kind": "desk"}}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, time.UTC) }

	r := p.RulesAt([]string{"nurses"}, icu)
	if r.MaxSession != 2*time.Hour || r.IdleTimeout != time.Minute || r.IdleWarning != 30*time.Second {
		t.Errorf("limits at the ICU desk: max %v idle %v warning %v; want the shorter: 2h, 1m, 30s", r.MaxSession, r.IdleTimeout, r.IdleWarning)
	}
	if !slices.Equal(r.Program, []string{"/usr/bin/icu-chart"}) {
		t.Errorf("program %v: the first matching rule that names one wins", r.Program)
	}
	for _, c := range []struct {
		h, m int
		want bool
	}{{6, 30, false}, {7, 0, true}, {17, 59, true}, {18, 0, false}, {18, 30, false}} {
		if got := r.AllowedAt(at(c.h, c.m)); got != c.want {
			t.Errorf("ICU nurse at %02d:%02d allowed %v, want %v (both the group's 07–19 and the ward's 06–18)", c.h, c.m, got, c.want)
		}
	}
	if got := r.SessionLimit(at(17, 30)); got != 30*time.Minute {
		t.Errorf("session from 17:30 on the ICU: %v, want 30m (the ward closes at 18:00)", got)
	}
	if got := r.SessionLimit(at(9, 0)); got != 2*time.Hour {
		t.Errorf("session from 09:00 on the ICU: %v, want the ward's 2h", got)
	}

	other := p.RulesAt([]string{"nurses"}, Place{Site: "north", Ward: "ward7"})
	if !other.AllowedAt(at(18, 30)) || other.MaxSession != 8*time.Hour || len(other.PlaceHours) != 0 {
		t.Errorf("a nurse on ward 7 got the ICU's rules: %+v", other)
	}
	if got := p.RulesFor([]string{"nurses"}); len(got.PlaceHours) != 0 || got.MaxSession != 8*time.Hour {
		t.Errorf("RulesAt changed the group's own rules: %+v", got)
	}
}

func TestPlaceRuleForAGroupLeavesOthersAlone(t *testing.T) {
	p := placePolicy(t)
	icu := Place{Ward: "icu"}
	if got := p.RulesAt([]string{"porters"}, icu).MaxSession; got != 10*time.Minute {
		t.Errorf("porter on the ICU: %v, want 10m", got)
	}
	if got := p.RulesAt([]string{"nurses"}, icu).MaxSession; got != 2*time.Hour {
		t.Errorf("nurse on the ICU: %v, want 2h (the porters' rule is not hers)", got)
	}
}

func TestPlaceNeverGrantsMore(t *testing.T) {
	p := Default()
	p.Default.MaxSession = time.Hour
	p.Default.Hours = []Window{{From: 8 * time.Hour, To: 16 * time.Hour}}
	p.Places = []PlaceRules{{Name: "long", Match: Match{Ward: "lab"}, MaxSession: 12 * time.Hour,
		Hours: []Window{{From: 0, To: 24 * time.Hour}}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	r := p.RulesAt(nil, Place{Ward: "lab"})
	if r.MaxSession != time.Hour || r.AllowedAt(time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)) {
		t.Errorf("a place widened a person's rules: max %v, allowed at 20:00 %v", r.MaxSession, r.AllowedAt(time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)))
	}
}

func TestValidateNamesBadPlaceRules(t *testing.T) {
	p := Default()
	p.Places = []PlaceRules{
		{Name: "all"},
		{Name: "labels", Match: Match{Labels: map[string]string{"flo or": "3"}}},
		{Name: "prog", Match: Match{Ward: "icu"}, Program: []string{"chart"}, IdleTimeout: time.Minute, IdleWarning: time.Minute},
		{Name: "hours", Match: Match{Ward: "icu"}, Hours: []Window{{From: 9 * time.Hour, To: 9 * time.Hour}}},
	}
	err := p.Validate()
	for _, want := range []string{"places[0].match: must name a site, a ward or labels", `places[1].match.labels: label "flo or"`,
		"places[2].program: must start with an absolute path", "places[2].idle_warning", "places[3].hours[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}
