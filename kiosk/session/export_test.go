package session

import (
	"strconv"
	"time"
)

// StartXvfb runs a real X server with access control on, for the tests
// of package session_test (x11_test.go).
var StartXvfb = startXvfb

// TamperHostAccess does what a session program admitted to the display
// may do: as a client with no cookie, it adds a localuser entry for uid
// and turns access control off.
func TamperHostAccess(display string, uid uint32) error {
	c, err := dialX11(display, "/nonexistent", 5*time.Second)
	if err != nil {
		return err
	}
	defer c.c.Close()
	if err := c.changeHosts(true, localUserHost("#"+strconv.FormatUint(uint64(uid), 10))); err != nil {
		return err
	}
	return c.setAccessControl(false)
}
