package config

import (
	"fmt"
	"strings"

	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
)

// RenderPolicy writes p as canonical policy TOML: every setting spelt
// out, in a fixed order, trust anchors inlined as PEM. ParsePolicy reads
// it back to the same policy; it is what the store keeps (PolicySchema)
// and what diffs compare.
func RenderPolicy(p policy.Policy) []byte {
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	kv("rp_id", quote(p.RPID))
	kv("rp_name", quote(p.RPName))
	kv("origin", quote(p.Origin))
	kv("require_uv", fmt.Sprint(p.RequireUV))
	kv("min_pin_length", fmt.Sprint(p.MinPINLength))
	kv("min_credentials", fmt.Sprint(p.MinCredentials))
	kv("show_tiles", fmt.Sprint(p.ShowTiles))
	kv("key_removal_ends_session", fmt.Sprint(p.KeyRemovalEndsSession))
	kv("key_tap_ends_session", fmt.Sprint(p.KeyTapEndsSession))
	kv("aaguid_allow", list(p.AAGUIDAllow))
	kv("aaguid_block", list(p.AAGUIDBlock))
	kv("require_attestation", fmt.Sprint(p.RequireAttestation))
	if len(p.TrustAnchors) == 0 {
		kv("trust_anchors", "[]")
	} else {
		b.WriteString("trust_anchors = [\n")
		for _, a := range p.TrustAnchors {
			// A literal multi-line string keeps the PEM as it is; PEM
			// never contains three quotes.
			fmt.Fprintf(&b, "'''\n%s''',\n", strings.TrimSpace(a)+"\n")
		}
		b.WriteString("]\n")
	}
	for _, m := range []struct {
		name string
		m    policy.Method
	}{{"platform", p.Platform}, {"roaming", p.Roaming}} {
		fmt.Fprintf(&b, "\n[%s]\n", m.name)
		kv("enabled", fmt.Sprint(m.m.Enabled))
		kv("groups", list(m.m.Groups))
	}
	b.WriteString("\n[default]\n")
	renderRules(&b, p.Default)
	for _, g := range p.Groups {
		fmt.Fprintf(&b, "\n[groups.%s]\n", quoteKey(g.Group))
		renderRules(&b, g.Rules)
	}
	renderPlaces(&b, p.Places)
	b.WriteString("\n[lockout]\n")
	kv("max_failures", fmt.Sprint(p.Lockout.MaxFailures))
	kv("window", quote(FormatDuration(p.Lockout.Window)))
	kv("backoff", quote(FormatDuration(p.Lockout.Backoff)))
	kv("max_backoff", quote(FormatDuration(p.Lockout.MaxBackoff)))
	kv("spike", fmt.Sprint(p.Lockout.Spike))
	kv("pin_suspend_after", fmt.Sprint(p.Lockout.SuspendAfter()))
	return []byte(b.String())
}

func renderRules(b *strings.Builder, r policy.Rules) {
	hours := make([]string, len(r.Hours))
	for i, w := range r.Hours {
		hours[i] = FormatWindow(w)
	}
	fmt.Fprintf(b, "hours = %s\n", list(hours))
	fmt.Fprintf(b, "max_session = %s\n", quote(FormatDuration(r.MaxSession)))
	fmt.Fprintf(b, "idle_timeout = %s\n", quote(FormatDuration(r.IdleTimeout)))
	fmt.Fprintf(b, "idle_warning = %s\n", quote(FormatDuration(r.IdleWarning)))
	fmt.Fprintf(b, "program = %s\n", list(r.Program))
}

// quote writes a TOML basic string (TOML 1.0 §String): backslash and
// quote escaped, control characters as \uXXXX.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteKey leaves a bare key bare (TOML 1.0 §Keys) and quotes anything
// else.
func quoteKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

func list(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Diff returns a line diff from a to b: unchanged lines start with two
// spaces, removed ones with "- ", added ones with "+ ". Empty when equal.
// Policies are a few dozen lines, so the quadratic longest common
// subsequence is cheap.
func Diff(a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	x := strings.Split(strings.TrimSuffix(string(a), "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(a) == 0 {
		x = nil
	}
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + x[i] + "\n")
			i++
		default:
			out.WriteString("+ " + y[j] + "\n")
			j++
		}
	}
	return out.String()
}

// DecodeStoredPolicy reads a policy version as the store keeps it (Data
// written by RenderPolicy under PolicySchema). The appliance calls it at
// start with the newest stored version.
func DecodeStoredPolicy(version uint64, schema uint32, data []byte) (policy.Policy, error) {
	if schema != PolicySchema {
		return policy.Policy{}, kiosk.Errorf(kiosk.KindStoreCorrupt, "read stored policy",
			"policy version %d is in encoding %d; this build reads %d", version, schema, PolicySchema)
	}
	p, err := ParsePolicy(fmt.Sprintf("stored policy version %d", version), data, nil)
	if err != nil {
		return policy.Policy{}, err
	}
	p.Version = int(version)
	return p, nil
}
