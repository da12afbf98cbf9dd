package appliance

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/auditfile"
	"passkiosk/kiosk/config"
	"passkiosk/store"
	"passkiosk/tpm"
)

// tpmConfig is the tpm package's configuration from the appliance's: the
// transport, and the dictionary-attack parameters with the lockout
// authorization they need (IT's file, or the copy passkiosk keeps sealed
// in the database).
func tpmConfig(cfg *config.Config, db *store.DB, logf func(string, ...any)) tpm.Config {
	// One salted session kept open across sign-ins: five commands each.
	c := tpm.Config{Transport: cfg.TPM.Transport, Device: cfg.TPM.Device, Swtpm: cfg.TPM.Socket, KeepSession: true, Logf: logf}
	if !cfg.TPM.ManageDA {
		return c
	}
	c.DA = &tpm.DAParams{MaxTries: uint32(cfg.TPM.MaxAuthFail),
		Interval: time.Duration(cfg.TPM.LockoutInterval) * time.Second,
		Recovery: time.Duration(cfg.TPM.LockoutRecovery) * time.Second}
	if cfg.TPM.LockoutAuthFile != "" {
		auth, err := readRootOnly(cfg.TPM.LockoutAuthFile)
		if err != nil {
			logf("tpm.lockout_auth_file: %v", err)
		} else {
			c.LockoutAuth = auth
		}
	}
	if db != nil {
		sealed, err := db.TPMLockoutAuth()
		if err != nil {
			logf("sealed lockout authorization: %v", err)
		}
		c.SealedLockoutAuth = sealed
		c.SaveSealedLockoutAuth = func(b []byte) error { return db.SetTPMLockoutAuth(b, cfg.Terminal) }
	}
	return c
}

// readRootOnly reads a secret from a file that root owns and no one else
// may read or write; its last line break is not part of the secret.
func readRootOnly(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 || fi.Mode().Perm()&0o077 != 0 || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s must be a regular file owned by root with mode 0600 or 0400", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// tpmAdmin serves the admin API's TPM commands from the open TPM.
type tpmAdmin struct {
	k *tpm.TPM
	// fleetKey is the file of the TPM's fleet key (fleetkey.go).
	fleetKey string
	// signingKey caches SigningKey's answer: the attestation key is the
	// same for as long as the TPM keeps its endorsement seed, and making
	// it (TPM2_CreatePrimary) costs a real chip tens of milliseconds that
	// status need not spend, holding the TPM, each time it is asked.
	mu         sync.Mutex
	signingKey string
}

var _ admin.TPM = (*tpmAdmin)(nil)

func (t *tpmAdmin) LockoutStatus(ctx context.Context) (admin.TPMLockout, error) {
	s, err := t.k.Lockout(ctx)
	if err != nil {
		return admin.TPMLockout{}, err
	}
	da := t.k.DAStatus()
	left := s.RetryAfter()
	if s.InLockout && left == 0 {
		left = s.Interval
	}
	return admin.TPMLockout{Counter: s.Failures, Max: s.MaxTries, Interval: int64(s.Interval / time.Second),
		Recovery: int64(s.Recovery / time.Second), InLockout: s.InLockout, TimeLeft: int64(left / time.Second),
		Managed: da.Managed, Source: da.Source, Reason: da.Reason}, nil
}

func (t *tpmAdmin) ResetLockout(context.Context) error { return t.k.ResetLockoutManaged() }

// SigningKey is the fingerprint of the attestation key that signs audit
// exports (appliance.signExport).
func (t *tpmAdmin) SigningKey(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.signingKey != "" {
		return t.signingKey, nil
	}
	pub, err := t.k.AttestationKey(ctx)
	if err != nil {
		return "", err
	}
	t.signingKey = auditfile.KeyFingerprint(pub)
	return t.signingKey, nil
}
