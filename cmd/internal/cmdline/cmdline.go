// Package cmdline holds what the appliance's two programs (the window,
// cmd/passkiosk, and the daemon, cmd/passkioskd) do alike with their
// command line: the --version flag. It imports only the standard library.
package cmdline

import (
	"flag"
	"fmt"
	"os"
	"strconv"
)

// VersionFlag adds --version to the command line: given, the program
// prints its name and version and exits at once.
func VersionFlag(name, version string) {
	flag.Var(versionFlag{name: name, version: version}, "version", "print the version and exit")
}

type versionFlag struct{ name, version string }

func (versionFlag) IsBoolFlag() bool { return true }

func (versionFlag) String() string { return "false" }

func (f versionFlag) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil || !on {
		return err
	}
	fmt.Println(f.name, f.version)
	os.Exit(0)
	return nil
}
