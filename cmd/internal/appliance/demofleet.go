package appliance

import (
	"fmt"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk/config"
	"passkiosk/tpm"
)

// DemoFleetConfig is one terminal of make demo-fleet: the demo's
// configuration (DemoConfig) in stateDir, with the terminal's name and
// [fleet] section from file (passkiosk-demo-cluster writes it from what
// passkioskctl fleet join printed) and the TPM a swtpm at swtpmAddr: the
// in-process simulator is one per process, and the demo fleet runs two
// terminals in one. Its people and codes come from the directory, not
// from the demo's seed.
func DemoFleetConfig(stateDir, file, swtpmAddr string) (*config.Config, error) {
	term, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	if !term.Fleet.Enabled() {
		return nil, fmt.Errorf("%s has no [fleet] endpoints: it is not a demo fleet terminal", file)
	}
	cfg, err := DemoConfig(stateDir)
	if err != nil {
		return nil, err
	}
	cfg.Terminal, cfg.Fleet = term.Terminal, term.Fleet
	cfg.TPM.Transport, cfg.TPM.Socket = tpm.TransportSwtpm, swtpmAddr
	return cfg, nil
}

// NewDemoFleetKey is the one virtual security key the demo fleet's
// terminals share (Options.DemoKey), kept in dir: one person's key,
// carried from terminal to terminal, with one signature counter.
func NewDemoFleetKey(dir string) (*softkey.Key, error) { return virtualKey(dir) }
