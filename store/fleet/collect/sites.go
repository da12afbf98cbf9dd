package collect

import (
	"strings"
	"sync"

	"passkiosk/store/fleet"
)

// sites maps terminals to their sites.
type sites struct {
	mu sync.Mutex
	m  map[string]string
}

// set records the site a terminal's inventory record (fleet.Terminal)
// names; a value that does not decode leaves the terminal without a site.
func (s *sites) set(key string, value []byte) {
	name := strings.TrimPrefix(key, fleet.TerminalKey(""))
	site := ""
	if t, err := fleet.DecodeTerminal(value); value != nil && err == nil {
		site = t.Site
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
