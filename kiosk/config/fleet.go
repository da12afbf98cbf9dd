package config

import (
	"net/url"
	"strings"
	"time"
)

// Fleet joins the terminal to a fleet's directory (an etcd cluster): its
// people, roaming keys, revocations and policy come from there, and the
// terminal signs people in from its own copy of them, online or not.
// Empty Endpoints: the terminal is on its own (the default).
type Fleet struct {
	// Name is the terminal's name in the fleet: its etcd user and the
	// common name of its client certificate (letters, digits, '.', '_',
	// '-'). Set by `passkioskctl fleet join`.
	Name string `toml:"name"`
	// Endpoints are every member of the cluster, as https://host:port.
	// List them all: a terminal that knows one member is blind while
	// that member is down.
	Endpoints []string `toml:"endpoints"`
	// Certificate and Key are the terminal's mTLS client certificate and
	// its private key (root-only, mode 0600); CA is the PEM file of the
	// certificates that may sign the members'.
	Certificate string `toml:"certificate"`
	Key         string `toml:"key"`
	CA          string `toml:"ca"`
	// Service is the fleet service (passkiosk-fleetd), https://host:port:
	// enrollment codes are checked and redeemed there, with the same
	// client certificate. Empty: the terminal's own etcd client redeems,
	// which its role must then allow (not the role fleet join makes).
	Service string `toml:"service"`
	// OfflineMaxAge is how old the terminal's copy may grow while the
	// directory cannot be reached before OfflineStrict applies ("24h").
	OfflineMaxAge string `toml:"offline_max_age"`
	// OfflineStrict refuses security keys once the copy is older than
	// OfflineMaxAge: a key revoked meanwhile would not be known here.
	// Passkeys in this terminal's TPM still work: they never left it.
	OfflineStrict bool `toml:"offline_strict"`
	// RevokeEndsSession is "at-once" (default) or "at-idle": when a
	// running session of a person the directory revoked or disabled
	// ends.
	RevokeEndsSession string `toml:"revoke_ends_session"`
}

// DefaultOfflineMaxAge is how old the copy may grow offline by default.
const DefaultOfflineMaxAge = 24 * time.Hour

// Enabled reports whether the terminal belongs to a fleet.
func (f Fleet) Enabled() bool { return len(f.Endpoints) > 0 }

// MaxAge is OfflineMaxAge as a duration (validated by Load).
func (f Fleet) MaxAge() time.Duration {
	d, err := time.ParseDuration(f.OfflineMaxAge)
	if err != nil || d <= 0 {
		return DefaultOfflineMaxAge
	}
	return d
}

// validate checks the fleet section, only when it is switched on.
func (f Fleet) validate(c *collector) {
	if d, err := time.ParseDuration(f.OfflineMaxAge); err != nil || d <= 0 {
		c.add("fleet.offline_max_age", "fleet.offline_max_age = %q: must be a positive duration like \"24h\" or \"90m\"", f.OfflineMaxAge)
	}
	c.oneOf("fleet.revoke_ends_session", f.RevokeEndsSession, "at-once", "at-idle")
	if !f.Enabled() {
		if f.Name != "" || f.Certificate != "" || f.Key != "" || f.CA != "" {
			c.add("fleet.endpoints", "fleet.endpoints: the [fleet] section names a terminal or certificates but no endpoints; list every member of the cluster, like [\"https://etcd1.example:2379\", \"https://etcd2.example:2379\", \"https://etcd3.example:2379\"]")
		}
		return
	}
	if !validFleetName(f.Name) {
		c.add("fleet.name", "fleet.name = %q: must be the terminal's certificate name, 1 to 64 letters, digits, '.', '_' or '-' (passkioskctl fleet join sets it)", f.Name)
	}
	seen := map[string]bool{}
	for _, e := range f.Endpoints {
		u, err := url.Parse(e)
		switch {
		case err != nil || u.Host == "" || u.Port() == "":
			c.add("fleet.endpoints", "fleet.endpoints: %q must be a URL with a port, like https://etcd1.example:2379", e)
		case u.Scheme != "https":
			c.add("fleet.endpoints", "fleet.endpoints: %q must use https: the terminal proves who it is with its client certificate", e)
		case seen[u.Host]:
			c.add("fleet.endpoints", "fleet.endpoints: %q is listed twice", e)
		}
		if u != nil {
			seen[u.Host] = true
		}
	}
	if f.Service != "" {
		if u, err := url.Parse(f.Service); err != nil || u.Scheme != "https" || u.Host == "" {
			c.add("fleet.service", "fleet.service = %q: must be the fleet service's https://host:port", f.Service)
		}
	}
	for key, v := range map[string]string{"fleet.certificate": f.Certificate, "fleet.key": f.Key, "fleet.ca": f.CA} {
		if v == "" {
			c.add(key, "%s: a fleet terminal needs its client certificate, its key and the cluster's CA (passkioskctl fleet join writes them)", key)
		} else {
			c.absolute(key, v)
		}
	}
}

func validFleetName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	return strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r))
	}) < 0
}
