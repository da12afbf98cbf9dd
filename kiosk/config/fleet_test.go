package config

import (
	"strings"
	"testing"
	"time"
)

func TestFleetSection(t *testing.T) {
	good := `[fleet]
name = "ward7-bay2"
endpoints = ["https://etcd1.example:2379", "https://etcd2.example:2379", "https://etcd3.example:2379"]
certificate = "/etc/passkiosk/fleet/terminal.crt"
key = "/etc/passkiosk/fleet/terminal.key"
ca = "/etc/passkiosk/fleet/ca.crt"
offline_max_age = "36h"
offline_strict = true
revoke_ends_session = "at-idle"
`
	c, err := Parse("c.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Fleet.Enabled() || c.Fleet.MaxAge() != 36*time.Hour || !c.Fleet.OfflineStrict || c.Fleet.RevokeEndsSession != "at-idle" {
		t.Fatalf("fleet %+v", c.Fleet)
	}
	if d, _ := Parse("c.toml", nil); d.Fleet.Enabled() || d.Fleet.MaxAge() != 24*time.Hour {
		t.Fatalf("default fleet %+v", d.Fleet)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"plain http", "[fleet]\nname = \"t1\"\nendpoints = [\"http://e:2379\"]\ncertificate = \"/c\"\nkey = \"/k\"\nca = \"/a\"\n",
			`c.toml:3: fleet.endpoints: "http://e:2379" must use https`},
		{"no port", "[fleet]\nname = \"t1\"\nendpoints = [\"https://e\"]\ncertificate = \"/c\"\nkey = \"/k\"\nca = \"/a\"\n",
			`c.toml:3: fleet.endpoints: "https://e" must be a URL with a port`},
		{"no certificate", "[fleet]\nname = \"t1\"\nendpoints = [\"https://e:2379\"]\nkey = \"/k\"\nca = \"/a\"\n",
			`fleet.certificate: a fleet terminal needs its client certificate`},
		{"bad name", "[fleet]\nname = \"ward 7\"\nendpoints = [\"https://e:2379\"]\ncertificate = \"/c\"\nkey = \"/k\"\nca = \"/a\"\n",
			`c.toml:2: fleet.name = "ward 7": must be the terminal's certificate name`},
		{"bad age", "[fleet]\noffline_max_age = \"a day\"\n", `c.toml:2: fleet.offline_max_age = "a day": must be a positive duration`},
		{"bad mode", "[fleet]\nrevoke_ends_session = \"later\"\n", `fleet.revoke_ends_session = "later": must be one of at-once, at-idle`},
		{"certificates without endpoints", "[fleet]\ncertificate = \"/c\"\n", `fleet.endpoints: the [fleet] section names a terminal or certificates but no endpoints`},
	} {
		_, err := Parse("c.toml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
