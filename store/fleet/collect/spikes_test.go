package collect

import (
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
)

func TestFailureSpikesByPersonTerminalAndSite(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	type fail struct {
		terminal, site, person string
		at                     time.Duration
	}
	th := Thresholds{Window: 10 * time.Minute, PersonTerminals: 3, TerminalFailures: 4, SiteFailures: 5}
	for _, tc := range []struct {
		name  string
		fails []fail
		want  []string // By/Key of the spikes, in order
	}{
		{"one person at three terminals",
			[]fail{{"a", "s1", "p", 0}, {"b", "s2", "p", time.Minute}, {"c", "s3", "p", 2 * time.Minute}},
			[]string{"person/p"}},
		{"one person at three terminals, too far apart",
			[]fail{{"a", "s1", "p", 0}, {"b", "s2", "p", 6 * time.Minute}, {"c", "s3", "p", 12 * time.Minute}},
			nil},
		{"one person many times at one terminal is the terminal's spike",
			[]fail{{"a", "", "p", 0}, {"a", "", "p", 1}, {"a", "", "p", 2}, {"a", "", "p", 3}},
			[]string{"terminal/a"}},
		{"many people at one site",
			[]fail{{"a", "s", "p1", 0}, {"b", "s", "p2", 1}, {"c", "s", "p3", 2}, {"a", "s", "p4", 3}, {"b", "s", "p5", 4}},
			[]string{"site/s"}},
		{"late arrivals count at their own time",
			[]fail{{"c", "", "p", 2 * time.Minute}, {"a", "", "p", 0}, {"b", "", "p", time.Minute}},
			[]string{"person/p"}},
		{"one alarm per window",
			[]fail{{"a", "", "p", 0}, {"b", "", "p", 1}, {"c", "", "p", 2}, {"d", "", "p", 3}, {"e", "", "p", 4}},
			[]string{"person/p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpikes(th)
			var got []string
			for _, f := range tc.fails {
				w := auditfile.Wire{Type: kiosk.EventSignInFailed, UserName: f.person, Time: t0.Add(f.at).UnixNano()}
				for _, sp := range s.add(f.terminal, f.site, &w) {
					got = append(got, sp.By+"/"+sp.Key)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("spikes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("spikes %v, want %v", got, tc.want)
				}
			}
		})
	}
	s := newSpikes(th)
	w := auditfile.Wire{Type: kiosk.EventSignIn, UserName: "p", Time: t0.UnixNano()}
	for range 10 {
		if sp := s.add("a", "s", &w); len(sp) > 0 {
			t.Fatalf("successful sign-ins made a spike: %v", sp)
		}
	}
}
