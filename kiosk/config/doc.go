// Package config reads the appliance's two TOML files: its configuration
// (/etc/passkiosk/passkiosk.toml: terminal name, state directory, TPM
// transport, security keys, session sandbox and user, admin socket and
// group, log level, and the [fleet] section: the fleet's etcd endpoints,
// the terminal's client certificate and how long it may run offline; and
// [place]: the site, ward and labels of a terminal the fleet's inventory
// does not place) and its policy file (what policy.Policy says, written
// with durations like "5m", weekday windows like "mon-fri 07:00-19:00",
// trust anchors as PEM files, and [places.NAME] rules for the terminals
// whose place they match, places.go). REFERENCE.md documents every key.
//
// Reading a file reports every problem at once, each with the file, the
// line and the key, and for unknown keys the known key it is probably a
// typo of: `policy.toml:12: unknown key "idle_timout" in [groups.nurses]
// (did you mean idle_timeout?)`. Errors are kiosk.KindMalformed with a
// Problems list inside.
//
// RenderPolicy writes a policy back as canonical TOML: that text is what
// the store keeps for each policy version (PolicySchema) and what policy
// diffs compare.
//
// It imports the standard library, kiosk, kiosk/policy and the TOML
// parser, nothing else.
package config
