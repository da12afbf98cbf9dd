package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
)

func TestDefaultIsValid(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	p := Default()
	p.RPID = "https://x"
	p.AAGUIDBlock = []string{"nope"}
	p.MinPINLength = 2
	p.RequireUV = false
	p.RequireAttestation = true
	p.Default.IdleWarning = p.Default.IdleTimeout
	p.Groups = []GroupRules{{Group: "", Rules: p.Default}}
	err := p.Validate()
	for _, field := range []string{"rp_id", "aaguid_block[0]", "min_pin_length", "require_uv", "require_attestation", "default.idle_warning", "groups[0].group"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func TestHoursIncludingNightShift(t *testing.T) {
	night := Rules{Hours: []Window{{Days: []time.Weekday{time.Monday}, From: 22 * time.Hour, To: 6 * time.Hour}}}
	day := Rules{Hours: []Window{{From: 7 * time.Hour, To: 19 * time.Hour}}}
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, 23+d, h, m, 0, 0, time.UTC) } // d=0 is a Monday
	cases := []struct {
		r    Rules
		t    time.Time
		want bool
	}{
		{night, at(0, 23, 0), true},
		{night, at(1, 5, 59), true}, // Tuesday morning, shift began Monday
		{night, at(1, 6, 0), false},
		{night, at(1, 23, 0), false}, // Tuesday evening: not a Monday shift
		{night, at(0, 5, 0), false},  // Monday morning belongs to Sunday's shift
		{day, at(2, 7, 0), true},
		{day, at(2, 19, 0), false},
		{Rules{}, at(3, 3, 0), true},
	}
	for i, c := range cases {
		if got := c.r.AllowedAt(c.t); got != c.want {
			t.Errorf("case %d at %v: %v, want %v", i, c.t, got, c.want)
		}
	}
}

func TestMethodsPilotAndAAGUIDLists(t *testing.T) {
	p := Default()
	p.Roaming.Groups = []string{"pilot"}
	p.Platform.Enabled = false
	if err := p.MethodAllowed(kiosk.AttachRoaming, []string{"nurses"}); !errors.Is(err, kiosk.ErrPolicy) {
		t.Fatalf("non-pilot roaming: %v", err)
	}
	if err := p.MethodAllowed(kiosk.AttachRoaming, []string{"nurses", "pilot"}); err != nil {
		t.Fatalf("pilot roaming: %v", err)
	}
	if err := p.MethodAllowed(kiosk.AttachPlatform, []string{"pilot"}); !errors.Is(err, kiosk.ErrPolicy) {
		t.Fatalf("platform off: %v", err)
	}
	a, _ := ParseAAGUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")
	b, _ := ParseAAGUID("ee882879721c491397753dfcce97072a")
	p.AAGUIDAllow = []string{FormatAAGUID(a)}
	if p.AAGUIDAllowed(a) != nil || !errors.Is(p.AAGUIDAllowed(b), kiosk.ErrPolicy) {
		t.Fatal("allow list")
	}
	p.AAGUIDBlock = []string{FormatAAGUID(a)}
	if !errors.Is(p.AAGUIDAllowed(a), kiosk.ErrPolicy) {
		t.Fatal("block list must win over allow list")
	}
}

func TestRulesForFirstMatchingGroup(t *testing.T) {
	p := Default()
	p.Groups = []GroupRules{{Group: "a", Rules: Rules{MaxSession: time.Hour}}, {Group: "b", Rules: Rules{MaxSession: 2 * time.Hour}}}
	if p.RulesFor([]string{"b", "a"}).MaxSession != time.Hour || p.RulesFor([]string{"c"}).MaxSession != 8*time.Hour {
		t.Fatal("rules order")
	}
}

// A session ends where the person's hours end, windows that follow on
// without a gap counting as one.
func TestSessionLimitEndsWithTheHours(t *testing.T) {
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, 23+d, h, m, 0, 0, time.UTC) } // d=0 is a Monday
	mon := []time.Weekday{time.Monday}
	day := Rules{MaxSession: 8 * time.Hour, Hours: []Window{{From: 7 * time.Hour, To: 19 * time.Hour}}}
	night := Rules{MaxSession: 12 * time.Hour, Hours: []Window{{Days: mon, From: 22 * time.Hour, To: 6 * time.Hour}}}
	joined := Rules{MaxSession: 24 * time.Hour, Hours: []Window{
		{From: 7 * time.Hour, To: 19 * time.Hour}, {From: 19 * time.Hour, To: 23 * time.Hour}}}
	always := Rules{MaxSession: 72 * time.Hour, Hours: []Window{{From: 0, To: 24 * time.Hour}}}
	for _, c := range []struct {
		name string
		r    Rules
		t    time.Time
		want time.Duration
	}{
		{"no hours", Rules{MaxSession: 8 * time.Hour}, at(0, 18, 30), 8 * time.Hour},
		{"half an hour before the end", day, at(0, 18, 30), 30 * time.Minute},
		{"early in the day", day, at(0, 8, 0), 8 * time.Hour},
		{"night shift, evening", night, at(0, 23, 0), 7 * time.Hour},
		{"night shift, morning", night, at(1, 5, 0), time.Hour},
		{"windows that follow on", joined, at(0, 18, 0), 5 * time.Hour},
		{"every day, all day", always, at(0, 12, 0), 72 * time.Hour},
		{"outside the hours", day, at(0, 20, 0), 0},
	} {
		if got := c.r.SessionLimit(c.t); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
