package main

import (
	"os"
	"path/filepath"
)

// demoSocket is where `make demo` (passkiosk --demo, run from the
// repository) puts its admin socket.
const demoSocket = "demo-state/admin.sock"

// findSocket picks the admin socket when neither --socket nor
// $PASSKIOSK_SOCKET names one: the one the appliance's configuration
// names, else DefaultSocket; and when that is not there but a demo's is,
// in this folder or above it (the repository, run from a subfolder), the
// demo's.
func findSocket() string {
	s := configuredSocket()
	if isSocket(s) {
		return s
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if d := filepath.Join(dir, demoSocket); isSocket(d) {
				return d
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	return s
}

func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Type() == os.ModeSocket
}

// unreachableHint says where else a socket may be named.
const unreachableHint = "name the socket with --socket or PASSKIOSK_SOCKET (the demo prints its own)"
