package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"passkiosk/kiosk"
)

// Problem is one thing wrong with a file, where it is and what to do.
type Problem struct {
	File string
	Line int    // 0 when the line is not known
	Key  string // dotted key path, or "" for a syntax error
	Msg  string
}

func (p Problem) String() string {
	at := p.File
	if p.Line > 0 {
		at = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return at + ": " + p.Msg
}

// Problems is every problem found in one file. Reading a file reports all
// of them at once, so an administrator fixes a file in one round.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ProblemsOf returns the problems behind err, if it came from reading a
// file here.
func ProblemsOf(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	return nil
}

// fileErr wraps problems in a kiosk error of kind KindMalformed.
func fileErr(op string, ps Problems) error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
	return kiosk.E(kiosk.KindMalformed, op, ps)
}

// collector gathers problems for one file and knows where its keys are.
type collector struct {
	file  string
	lines map[string]int
	ps    Problems
}

func newCollector(file string, data []byte) *collector {
	return &collector{file: file, lines: keyLines(data)}
}

// add records a problem with key, a dotted path.
func (c *collector) add(key, format string, args ...any) {
	c.ps = append(c.ps, Problem{File: c.file, Line: c.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// line finds key's line, or its nearest defined parent's.
func (c *collector) line(key string) int {
	for k := key; k != ""; {
		if n, ok := c.lines[k]; ok {
			return n
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// syntax turns a decoder error into a problem with its line.
func (c *collector) syntax(err error) {
	var pe toml.ParseError
	if pp := (*toml.ParseError)(nil); errors.As(err, &pp) {
		pe = *pp
	}
	if errors.As(err, &pe) || pe.Position.Line > 0 {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = fmt.Sprintf("%s (at key %q)", msg, pe.LastKey)
		}
		c.ps = append(c.ps, Problem{File: c.file, Line: pe.Position.Line, Key: pe.LastKey, Msg: msg})
		return
	}
	// Type mismatches come as plain errors naming the line and the key.
	if m := decodeErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg := m[3]
		if t := typeErr.FindStringSubmatch(msg); t != nil {
			msg = fmt.Sprintf("the value is %s %s, it must be %s", article(t[1]), t[1], tomlTypeOf(t[2]))
		}
		c.ps = append(c.ps, Problem{File: c.file, Line: line, Key: m[2], Msg: m[2] + ": " + msg})
		return
	}
	c.ps = append(c.ps, Problem{File: c.file, Msg: err.Error()})
}

var (
	decodeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)
	typeErr   = regexp.MustCompile(`TOML value has type (\S+); destination has type (.+)$`)
)

func article(s string) string {
	if strings.ContainsAny(s[:1], "aeiou") {
		return "an"
	}
	return "a"
}

// tomlTypeOf names a Go destination type as the TOML value it wants.
func tomlTypeOf(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "string":
		return "a string (in quotes)"
	case "bool", "boolean":
		return "true or false"
	case "int", "int64", "integer":
		return "a whole number"
	case "[]string":
		return "a list of strings"
	}
	return "of type " + goType
}

// unknown reports keys the file has but the format does not, with the
// nearest known key as a suggestion (a typo is the usual cause).
func (c *collector) unknown(md toml.MetaData, schema any) {
	known := keyPatterns(reflect.TypeOf(schema), "")
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		// Report the outermost unknown key once: a misspelt table, not
		// every key inside it.
		cut := len(k)
		for i := 1; i <= len(k); i++ {
			if !knownPath(known, strings.Join(k[:i], ".")) {
				cut = i
				break
			}
		}
		path := strings.Join(k[:cut], ".")
		if reported[path] {
			continue
		}
		reported[path] = true
		parent, name := parentOf(path), k[cut-1]
		where := ""
		if parent != "" {
			where = " in [" + parent + "]"
		}
		msg := fmt.Sprintf("unknown key %q%s", name, where)
		if s := suggest(known, parent, name); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		c.ps = append(c.ps, Problem{File: c.file, Line: c.line(path), Key: path, Msg: msg})
	}
}

func knownPath(known []string, path string) bool {
	return slices.ContainsFunc(known, func(k string) bool { return patternMatch(k, path) })
}

func parentOf(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// keyPatterns lists every key path a struct type accepts, by its toml
// tags; "*" stands for any key of a map.
func keyPatterns(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	join := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			out = append(out, join(name))
			out = append(out, keyPatterns(f.Type, join(name))...)
		}
	case reflect.Map:
		out = append(out, join("*"))
		out = append(out, keyPatterns(t.Elem(), join("*"))...)
	}
	return out
}

// suggest returns the known key under parent closest to name, if it is
// close enough to be a typo: one edit for short names, two for longer.
func suggest(known []string, parent, name string) string {
	limit := 1
	if len(name) >= 6 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, k := range known {
		kp, kn := parentOf(k), k[strings.LastIndexByte(k, '.')+1:]
		if !patternMatch(kp, parent) {
			continue
		}
		if d := distance(name, kn); d < bestD {
			best, bestD = kn, d
		}
	}
	return best
}

func patternMatch(pattern, path string) bool {
	if pattern == "" || path == "" {
		return pattern == path
	}
	ps, ks := strings.Split(pattern, "."), strings.Split(path, ".")
	if len(ps) != len(ks) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != ks[i] {
			return false
		}
	}
	return true
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keyLines maps each dotted key path in a TOML text to the line that
// defines it. The decoder keeps key positions to itself, so this light
// scan finds them for error messages: table headers, "key =" lines
// (bare, quoted and dotted keys) and multi-line strings skipped. Anything
// it cannot place just has no line.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	table := ""
	var inMulti string // the delimiter of an open multi-line string
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		s := strings.TrimSpace(raw)
		if inMulti != "" {
			if strings.Count(s, inMulti)%2 == 1 {
				inMulti = ""
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			hdr := strings.Trim(strings.SplitN(s, "]", 2)[0], "[ ")
			if strings.HasPrefix(s, "[[") {
				hdr = strings.Trim(strings.SplitN(s, "]]", 2)[0], "[ ")
			}
			parts := splitKey(hdr)
			table = joinKey(parts)
			for i := range parts {
				if k := joinKey(parts[:i+1]); lines[k] == 0 {
					lines[k] = n
				}
			}
			continue
		}
		k, rest, ok := cutUnquoted(s, '=')
		if !ok {
			continue
		}
		parts := splitKey(k)
		if table != "" {
			parts = append(strings.Split(table, "."), parts...)
		}
		for i := range parts {
			if k := joinKey(parts[:i+1]); lines[k] == 0 {
				lines[k] = n
			}
		}
		for _, d := range []string{`"""`, `'''`} {
			if strings.Count(rest, d)%2 == 1 {
				inMulti = d
			}
		}
	}
	return lines
}

// cutUnquoted cuts s at the first sep outside quotes.
func cutUnquoted(s string, sep byte) (string, string, bool) {
	var q byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0 && c == q:
			q = 0
		case q != 0:
		case c == '"' || c == '\'':
			q = c
		case c == sep:
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

func splitKey(k string) []string {
	var parts []string
	for {
		part, rest, more := cutUnquoted(k, '.')
		if !more {
			part = k
		}
		part = strings.TrimSpace(part)
		part = strings.Trim(part, `"'`)
		parts = append(parts, part)
		if !more {
			return parts
		}
		k = rest
	}
}

func joinKey(parts []string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), ".")
}

// keyPatternsOf lists the key paths a file layout accepts.
func keyPatternsOf(v any) []string { return keyPatterns(reflect.TypeOf(v), "") }
