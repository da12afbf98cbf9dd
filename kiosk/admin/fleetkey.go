package admin

import (
	"context"
	"time"

	"passkiosk/kiosk"
)

// CmdFleetKey makes this terminal's fleet identity in its TPM: a new
// TPM-held key for its mTLS client certificate, and a certificate request
// for the fleet's CA to sign. The key's file stays on the terminal.
const CmdFleetKey = "fleet.key"

// FleetKeyArgs names the terminal (its certificate's common name, its
// etcd user). Replace makes a new key where one exists: the certificate
// of the old one stops working here.
type FleetKeyArgs struct {
	Name    string `json:"name"`
	Replace bool   `json:"replace,omitempty"`
}

// FleetKey is fleet.key's result.
type FleetKey struct {
	// Path is the key's file: the [fleet] section's key.
	Path string `json:"path"`
	// Request is the PKCS #10 certificate request, PEM.
	Request string `json:"request"`
	// Fingerprint is the SHA-256 of the public key (SubjectPublicKeyInfo).
	Fingerprint string `json:"fingerprint"`
}

// FleetKeyMaker is a TPM that makes fleet keys.
type FleetKeyMaker interface {
	FleetKey(ctx context.Context, name string, replace bool) (FleetKey, error)
}

func (c *call) fleetKey() (any, error) {
	var a FleetKeyArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	t, err := c.tpm()
	if err != nil {
		return nil, err
	}
	m, ok := t.(FleetKeyMaker)
	if !ok {
		return nil, &Error{Code: ExitFailed, Kind: kiosk.KindNoTPM.String(), Message: "this terminal's TPM cannot hold a fleet key"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := m.FleetKey(ctx, a.Name, a.Replace)
	if err != nil {
		return nil, err
	}
	c.s.opts.Log.Info("fleet key made in the TPM", "name", a.Name, "path", k.Path, "fingerprint", k.Fingerprint, "by", c.peer.String())
	return k, nil
}
