package collect

import (
	"strings"
	"sync"

	"passkiosk/fido/cbor"
	"passkiosk/store/fleet"
)

// terminalWire is IT's record of a terminal, terminals/<name> (package
// fleet's doc.go): only its site is read here.
type terminalWire struct {
	V      uint              `cbor:"0,keyasint"`
	Name   string            `cbor:"1,keyasint"`
	Site   string            `cbor:"2,keyasint,omitempty"`
	Ward   string            `cbor:"3,keyasint,omitempty"`
	Labels map[string]string `cbor:"4,keyasint,omitempty"`
}

// sites maps terminals to their sites.
type sites struct {
	mu sync.Mutex
	m  map[string]string
}

// set records the site a terminals/<name> value names; a value that
// does not decode leaves the terminal without a site.
func (s *sites) set(key string, value []byte) {
	name := strings.TrimPrefix(key, fleet.TerminalsPrefix)
	var w terminalWire
	site := ""
	if value != nil && cbor.Unmarshal(value, &w) == nil {
		site = w.Site
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	if site == "" {
		delete(s.m, name)
	} else {
		s.m[name] = site
	}
}

func (s *sites) of(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name]
}
