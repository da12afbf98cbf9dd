package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
)

func TestExamplePolicyLoads(t *testing.T) {
	p, err := LoadPolicy("testdata/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p.RPID != "ward7.example-hospital.org" || p.RPName != "Ward 7" || len(p.AAGUIDBlock) != 1 || !p.RequireUV {
		t.Fatalf("top level: %+v", p)
	}
	if len(p.Groups) != 2 || p.Groups[0].Group != "nurses" || p.Groups[1].Group != "porters" {
		t.Fatalf("groups in file order: %+v", p.Groups)
	}
	nurses := p.RulesFor([]string{"nurses"})
	if nurses.IdleTimeout != 2*time.Minute || nurses.IdleWarning != 30*time.Second || nurses.MaxSession != 8*time.Hour ||
		!slices.Equal(nurses.Program, p.Default.Program) || len(nurses.Hours) != 2 {
		t.Fatalf("nurses' rules (own and inherited from [default]): %+v", nurses)
	}
	// The night window belongs to the day it starts: Saturday 03:00
	// follows Friday 22:00.
	sat3am := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	sun12 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if !nurses.AllowedAt(sat3am) || nurses.AllowedAt(sun12) {
		t.Fatalf("hours: Saturday 03:00 allowed %v, Sunday noon allowed %v", nurses.AllowedAt(sat3am), nurses.AllowedAt(sun12))
	}
	if porters := p.RulesFor([]string{"porters"}); porters.MaxSession != time.Hour || porters.IdleTimeout != 5*time.Minute {
		t.Fatalf("porters: %+v", porters)
	}
}

func TestEmptyPolicyIsTheDefault(t *testing.T) {
	p, err := ParsePolicy("empty.toml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(RenderPolicy(p)) != string(RenderPolicy(policy.Default())) {
		t.Fatalf("empty file is not the default policy")
	}
}

func selfSigned(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Key Vendor Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRenderReadsBackToTheSamePolicy(t *testing.T) {
	dir := t.TempDir()
	anchor := selfSigned(t)
	if err := os.WriteFile(filepath.Join(dir, "vendor.pem"), []byte(anchor), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `rp_id = "a.example"
origin = "https://a.example"
require_attestation = true
trust_anchors = ["vendor.pem"]
aaguid_allow = ["ee882879721c491397753dfcce97072a"]
[roaming]
groups = ["pilot"]
[groups."night shift"]
hours = ["fri-mon 22:00-06:00", "wed 00:00-24:00"]
program = ["/usr/bin/app", "--title", "quote \" and backslash \\ and tab \t"]
[groups.pilot]
`
	if err := os.WriteFile(filepath.Join(dir, "p.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(filepath.Join(dir, "p.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.TrustAnchorPool() == nil || len(p.TrustAnchors) != 1 || !strings.Contains(p.TrustAnchors[0], "BEGIN CERTIFICATE") {
		t.Fatalf("anchor from file: %+v", p.TrustAnchors)
	}
	text := RenderPolicy(p)
	// The canonical form stands alone: no files, anchors inline.
	back, err := ParsePolicy("canonical.toml", text, nil)
	if err != nil {
		t.Fatalf("canonical text does not read back: %v\n%s", err, text)
	}
	if string(RenderPolicy(back)) != string(text) {
		t.Fatalf("render is not stable:\n%s\n---\n%s", text, RenderPolicy(back))
	}
	g := back.Groups[0]
	if g.Group != "night shift" || g.Program[2] != "quote \" and backslash \\ and tab \t" || len(g.Hours) != 2 ||
		!slices.Equal(g.Hours[0].Days, []time.Weekday{time.Friday, time.Saturday, time.Sunday, time.Monday}) || g.Hours[1].To != 24*time.Hour {
		t.Fatalf("group after round trip: %+v", g)
	}
	if !strings.Contains(string(text), `hours = ["fri-mon 22:00-06:00", "wed 00:00-24:00"]`) {
		t.Fatalf("windows rendered as:\n%s", text)
	}
}

func TestPolicyErrorsNameTheLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"typo in a group", "rp_id = \"a.example\"\norigin = \"https://a.example\"\n\n[default]\nmax_session = \"8h\"\n\n[groups.porters]\nmax_session = \"1h\"\n\n[groups.nurses]\nhours = [\"07:00-19:00\"]\nidle_timout = \"2m\"\n",
			[]string{`policy.toml:12: unknown key "idle_timout" in [groups.nurses] (did you mean idle_timeout?)`}},
		{"top-level typo", "rp_idd = \"x\"\n", []string{`policy.toml:1: unknown key "rp_idd" (did you mean rp_id?)`}},
		{"nothing close", "colour = \"blue\"\n", []string{`policy.toml:1: unknown key "colour"`}},
		{"bad duration", "[default]\nidle_timeout = \"five minutes\"\n",
			[]string{`policy.toml:2: default.idle_timeout: "five minutes" is not a duration (write it like "90s", "5m" or "8h30m")`}},
		{"bad day", "[groups.a]\nhours = [\"mon-fry 07:00-19:00\"]\n",
			[]string{`policy.toml:2: groups.a.hours: "mon-fry 07:00-19:00": "fry" is not a day`}},
		{"bad time", "[default]\nhours = [\"7-19\"]\n",
			[]string{`policy.toml:2: default.hours: "7-19": the times must read like 07:00-19:00`}},
		{"warning after timeout", "[groups.a]\nidle_timeout = \"1m\"\nidle_warning = \"2m\"\n",
			[]string{`policy.toml:3: groups.a.idle_warning: must be shorter than idle_timeout`}},
		{"both methods off", "[platform]\nenabled = false\n[roaming]\nenabled = false\n",
			[]string{`policy.toml:2: platform.enabled: at least one of platform and roaming must be enabled`}},
		{"bad AAGUID", "\naaguid_block = [\"not-an-aaguid\"]\n",
			[]string{`policy.toml:2: aaguid_block: "not-an-aaguid" is not an AAGUID`}},
		{"UV switched off", "rp_id = \"a.example\"\nrequire_uv = false\n",
			[]string{`policy.toml:2: require_uv: must be true: a touch alone does not show who is signing in, so every sign-in needs a PIN or a fingerprint`}},
		{"attestation without anchors", "require_attestation = true\n",
			[]string{`policy.toml:1: require_attestation: needs trust_anchors`}},
		{"anchor file missing", "trust_anchors = [\"nope.pem\"]\n",
			[]string{`policy.toml:1: trust anchor "nope.pem": only inline PEM is allowed here`}},
		{"wrong type", "min_pin_length = \"six\"\n",
			[]string{`policy.toml:1: min_pin_length: the value is a string, it must be a whole number`}},
		{"duplicate key", "rp_id = \"a\"\nrp_id = \"b\"\n", []string{`policy.toml:2: `}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("policy.toml", []byte(tc.text), nil)
			if kiosk.KindOf(err) != kiosk.KindMalformed {
				t.Fatalf("kind of %v", err)
			}
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

// Everything that would leave the terminal in service but unusable, or
// is surely a mistake, is refused when the file is checked, with its line
// and key, rather than at the next sign-in.
func TestPolicyRefusesWhatTheTerminalCannotUse(t *testing.T) {
	const rp = "rp_id = \"a.example\"\norigin = \"https://a.example\"\n"
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"relative session program", rp + "[default]\nprogram = [\"chromium\", \"--kiosk\"]\n",
			[]string{`policy.toml:4: default.program: must start with an absolute path like /usr/bin/chromium, got "chromium"`}},
		{"relative program in a group", rp + "[groups.nurses]\nprogram = [\"./app\"]\n",
			[]string{`policy.toml:4: groups.nurses.program: must start with an absolute path`}},
		{"model allowed and blocked", rp + "aaguid_allow = [\"ee882879-721c-4913-9775-3dfcce97072a\"]\naaguid_block = [\"EE882879721C491397753DFCCE97072A\"]\n",
			[]string{`policy.toml:4: aaguid_block: ee882879-721c-4913-9775-3dfcce97072a is also in aaguid_allow; a model must be on one list only`}},
		{"origin of another site", "rp_id = \"a.example\"\norigin = \"https://evil.example\"\n",
			[]string{`policy.toml:2: origin: host "evil.example" is neither rp_id "a.example" nor a subdomain of it`}},
		{"origin that only ends like the RP ID", "rp_id = \"a.example\"\norigin = \"https://nota.example\"\n",
			[]string{`policy.toml:2: origin: host "nota.example" is neither rp_id`}},
		{"origin with a path", rp + "origin = \"https://a.example/login\"\n", []string{`policy.toml:`}},
		{"undefined pilot group", rp + "[roaming]\ngroups = [\"pilto\"]\n[groups.pilot]\n",
			[]string{`policy.toml:4: roaming.groups: pilot group "pilto" has no [groups.pilto] rules; define it or remove it`}},
		{"absurd min_credentials", rp + "min_credentials = 100\n",
			[]string{`policy.toml:3: min_credentials: must be at most 10, got 100`}},
		{"more credentials than possible", rp + "min_credentials = 2\n[roaming]\nenabled = false\n",
			[]string{`policy.toml:3: min_credentials: must be 1 while security keys (roaming) are off`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("policy.toml", []byte(tc.text), nil)
			if kiosk.KindOf(err) != kiosk.KindMalformed {
				t.Fatalf("accepted, or kind of %v", err)
			}
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
	// What the rules allow still passes: a subdomain origin, a defined
	// pilot group, one credential with only platform passkeys.
	ok := "rp_id = \"example.org\"\norigin = \"https://ward7.example.org:8443\"\nmin_credentials = 1\n[roaming]\nenabled = false\n[platform]\ngroups = [\"pilot\"]\n[groups.pilot]\n"
	if _, err := ParsePolicy("policy.toml", []byte(ok), nil); err != nil {
		t.Fatalf("a sound policy refused: %v", err)
	}
}

func TestWindows(t *testing.T) {
	h := func(hh, mm int) time.Duration { return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute }
	for _, tc := range []struct {
		in, out string
		days    []time.Weekday
		from    time.Duration
		to      time.Duration
	}{
		{"07:00-19:00", "07:00-19:00", nil, h(7, 0), h(19, 0)},
		{"mon-fri 07:30-19:00", "mon-fri 07:30-19:00", []time.Weekday{1, 2, 3, 4, 5}, h(7, 30), h(19, 0)},
		{"Saturday,sun 08:00-12:00", "sat,sun 08:00-12:00", []time.Weekday{6, 0}, h(8, 0), h(12, 0)},
		{"fri 22:00-06:00", "fri 22:00-06:00", []time.Weekday{5}, h(22, 0), h(6, 0)},
		{"sat-mon 00:00-24:00", "sat-mon 00:00-24:00", []time.Weekday{6, 0, 1}, 0, h(24, 0)},
	} {
		w, err := ParseWindow(tc.in)
		if err != nil || !slices.Equal(w.Days, tc.days) || w.From != tc.from || w.To != tc.to {
			t.Errorf("%q: %+v %v", tc.in, w, err)
			continue
		}
		if got := FormatWindow(w); got != tc.out {
			t.Errorf("%q formats as %q, want %q", tc.in, got, tc.out)
		}
	}
	for _, bad := range []string{"", "mon", "mon tue 07:00-08:00", "07:00-07:00", "24:00-06:00", "07:60-08:00", "7:00-8:0", "xyz 07:00-08:00", "07:00"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDiff(t *testing.T) {
	a := []byte("a\nb\nc\nd\n")
	b := []byte("a\nB\nc\nd\ne\n")
	if got, want := Diff(a, b), "  a\n- b\n+ B\n  c\n  d\n+ e\n"; got != want {
		t.Fatalf("diff:\n%s\nwant\n%s", got, want)
	}
	if Diff(a, a) != "" {
		t.Fatalf("equal texts differ")
	}
	if got := Diff(nil, []byte("x\n")); got != "+ x\n" {
		t.Fatalf("from nothing: %q", got)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{5 * time.Minute: "5m", 8 * time.Hour: "8h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 30 * time.Second: "30s", 0: "0s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// FuzzParsePolicy: any input gives a policy or problems, never a panic;
// what parses renders to canonical text that reads back to itself.
func FuzzParsePolicy(f *testing.F) {
	for _, p := range []string{"testdata/policy.toml", "testdata/passkiosk.toml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[groups.a]\nhours = [\"mon-fri 07:00-19:00\"]\n"))
	f.Add([]byte("x = '''\nmulti\n''' \n[\"q.k\".b]\nc = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("f.toml", data, nil)
		if err != nil {
			if ProblemsOf(err) == nil {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		text := RenderPolicy(p)
		back, err := ParsePolicy("canonical.toml", text, nil)
		if err != nil {
			t.Fatalf("canonical text does not read back: %v\n%s", err, text)
		}
		if string(RenderPolicy(back)) != string(text) {
			t.Fatalf("render not stable")
		}
	})
}

func TestDecodeStoredPolicy(t *testing.T) {
	p, err := LoadPolicy("testdata/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeStoredPolicy(3, PolicySchema, RenderPolicy(p))
	if err != nil || got.Version != 3 || got.RPID != p.RPID || string(RenderPolicy(got)) != string(RenderPolicy(p)) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if _, err := DecodeStoredPolicy(3, PolicySchema+1, RenderPolicy(p)); kiosk.KindOf(err) != kiosk.KindStoreCorrupt {
		t.Fatalf("unknown encoding: %v", err)
	}
	if _, err := DecodeStoredPolicy(3, PolicySchema, []byte("rp_id = 1")); kiosk.KindOf(err) != kiosk.KindMalformed {
		t.Fatalf("damaged text: %v", err)
	}
}
