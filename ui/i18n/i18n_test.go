package i18n

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"passkiosk/kiosk"
)

var verb = regexp.MustCompile(`%\[\d+\][a-z]`)

func verbs(s string) []string {
	v := verb.FindAllString(s, -1)
	sort.Strings(v)
	return v
}

func TestEveryKeyInEveryLanguage(t *testing.T) {
	langs := Languages()
	if len(langs) < 2 {
		t.Fatalf("languages %v: want English and at least one more", langs)
	}
	en := MustLoad(Default)
	for _, l := range langs {
		c := MustLoad(l)
		for _, k := range en.Keys() {
			if !c.Has(k) {
				t.Errorf("%s: missing key %q", l, k)
			}
		}
		for _, k := range c.Keys() {
			if !en.Has(k) {
				t.Errorf("%s: key %q is not in %s", l, k, Default)
			}
		}
	}
}

func TestTranslationsTakeTheSameArguments(t *testing.T) {
	en := MustLoad(Default)
	for _, l := range Languages() {
		c := MustLoad(l)
		for _, k := range en.Keys() {
			if !c.Has(k) {
				continue
			}
			if got, want := verbs(c.msgs[k]), verbs(en.msgs[k]); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q: verbs %v, English has %v", l, k, got, want)
			}
			if strings.TrimSpace(c.msgs[k]) == "" {
				t.Errorf("%s %q: empty", l, k)
			}
			// Only indexed verbs: a plain %d or %s could not be reordered.
			if n := strings.Count(strings.ReplaceAll(c.msgs[k], "%%", ""), "%"); n != len(verbs(c.msgs[k])) {
				t.Errorf("%s %q: use indexed verbs like %%[1]s", l, k)
			}
		}
	}
}

func TestFilesHaveNoDuplicateKeys(t *testing.T) {
	// encoding/json keeps the last of duplicate keys silently; a translator
	// editing the wrong copy would see no effect.
	for _, l := range Languages() {
		raw, err := files.ReadFile(l + ".json")
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		seen := map[string]bool{}
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			k := tok.(string)
			if seen[k] {
				t.Errorf("%s: key %q twice", l, k)
			}
			seen[k] = true
			var v string
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s %q: %v", l, k, err)
			}
		}
	}
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "en"}, {"en", "en"}, {"de_DE.UTF-8", "de"}, {"de-AT", "de"}, {"EN_gb", "en"},
	} {
		c, err := Load(tc.in)
		if err != nil || c.Lang() != tc.want {
			t.Errorf("Load(%q) = %v, %v; want %s", tc.in, c, err, tc.want)
		}
	}
	_, err := Load("xx")
	if !errors.Is(err, kiosk.ErrNotFound) {
		t.Errorf("Load(xx) = %v, want a not-found error", err)
	}
	if _, err := Load("../en"); err == nil {
		t.Error("Load(../en) succeeded")
	}
}

func TestPluralAndMissingKey(t *testing.T) {
	en := MustLoad("en")
	if got := en.N("notice.wrong_pin_tries", 1); got != "Wrong PIN. 1 try left." {
		t.Errorf("one: %q", got)
	}
	if got := en.N("notice.wrong_pin_tries", 2); got != "Wrong PIN. 2 tries left." {
		t.Errorf("other: %q", got)
	}
	if got := en.T("no.such.key"); got != "⟦no.such.key⟧" {
		t.Errorf("missing: %q", got)
	}
}
