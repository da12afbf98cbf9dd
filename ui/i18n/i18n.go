package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"passkiosk/kiosk"
)

//go:embed *.json
var files embed.FS

// Default is the language used when none is configured.
const Default = "en"

// Catalog is the strings of one language.
type Catalog struct {
	lang string
	msgs map[string]string
}

// Languages lists the languages that have a translation file, sorted.
func Languages() []string {
	names, _ := fs.Glob(files, "*.json")
	langs := make([]string, 0, len(names))
	for _, n := range names {
		langs = append(langs, strings.TrimSuffix(n, ".json"))
	}
	sort.Strings(langs)
	return langs
}

// Normalize reduces a locale name ("de_DE.UTF-8", "de-AT") to the language
// code its file is named after ("de").
func Normalize(locale string) string {
	l := strings.ToLower(locale)
	if i := strings.IndexAny(l, "_-.@"); i >= 0 {
		l = l[:i]
	}
	return l
}

// Load returns the catalog for a language or locale name. An empty name
// means Default.
func Load(lang string) (*Catalog, error) {
	if lang == "" {
		lang = Default
	}
	l := Normalize(lang)
	raw, err := files.ReadFile(path.Clean(l + ".json"))
	if err != nil {
		return nil, kiosk.Errorf(kiosk.KindNotFound, "i18n load", "no translation for %q (have %s)", lang, strings.Join(Languages(), ", "))
	}
	msgs := map[string]string{}
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "i18n load "+l, err)
	}
	return &Catalog{lang: l, msgs: msgs}, nil
}

// MustLoad is Load for languages known to be embedded; it panics otherwise.
func MustLoad(lang string) *Catalog {
	c, err := Load(lang)
	if err != nil {
		panic(err)
	}
	return c
}

// Lang is the catalog's language code.
func (c *Catalog) Lang() string { return c.lang }

// Keys lists the catalog's keys, sorted.
func (c *Catalog) Keys() []string {
	keys := make([]string, 0, len(c.msgs))
	for k := range c.msgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether the catalog has a string for key.
func (c *Catalog) Has(key string) bool {
	_, ok := c.msgs[key]
	return ok
}

// T returns the string for key formatted with args (fmt verbs, indexed as
// %[1]s so translations may reorder them). A missing key comes back marked
// as ⟦key⟧ so it shows on screen and in goldens instead of vanishing.
func (c *Catalog) T(key string, args ...any) string {
	s, ok := c.msgs[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// N returns the plural form of key for the count n, passing n as the first
// argument. Both shipped languages have the same two forms (".one" for 1,
// ".other" otherwise, CLDR plural rules for English and German).
func (c *Catalog) N(key string, n int, args ...any) string {
	form := ".other"
	if n == 1 {
		form = ".one"
	}
	return c.T(key+form, append([]any{n}, args...)...)
}
