package main

import (
	"flag"
	"fmt"
	"os"

	"passkiosk/kiosk/admin"
)

// fleetKey runs "fleet key NAME": the running appliance makes the
// terminal's fleet key in its TPM and prints the certificate request for
// the fleet's CA (or writes it to --out). The key never leaves the TPM;
// its file is the [fleet] section's key.
func (e *env) fleetKey(args []string) error {
	fs := flag.NewFlagSet("fleet key", flag.ContinueOnError)
	replace := fs.Bool("replace", false, "make a new key where the terminal has one (the old key's certificate stops working here)")
	out := fs.String("out", "", "write the certificate request to this file instead of standard output")
	pos, err := e.parse(fs, args, 1, 1, "fleet key NAME [--replace] [--out FILE]")
	if err != nil {
		return err
	}
	var k admin.FleetKey
	if err := e.call(admin.CmdFleetKey, admin.FleetKeyArgs{Name: pos[0], Replace: *replace}, &k); err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(k.Request), 0o644); err != nil {
			return err
		}
	}
	return e.emit(k, func() {
		// The request alone on standard output, so that it can be
		// redirected to a file; what to do next beside it.
		w := e.stdout
		if *out == "" {
			fmt.Fprint(e.stdout, k.Request)
			w = e.stderr
		}
		fmt.Fprintf(w, "The terminal's fleet key is in its TPM; its file is %s (key fingerprint %s).\n", k.Path, k.Fingerprint)
		fmt.Fprintf(w, "Have the fleet's CA sign the request for a client certificate, then run\n"+
			"  passkioskctl fleet join --cert TERMINAL.crt --key %s …\n", k.Path)
	})
}
