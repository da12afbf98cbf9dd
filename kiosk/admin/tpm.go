package admin

import (
	"context"
	"time"

	"passkiosk/kiosk"
)

// Commands about the TPM's dictionary-attack lockout, and lifting one
// person's suspension after wrong PINs.
const (
	CmdTPMLockout      = "tpm.lockout"
	CmdTPMLockoutReset = "tpm.lockout.reset"
	CmdUsersUnsuspend  = "users.unsuspend"
)

// TPM is what the admin API needs from the TPM: its lockout state and the
// way out of a lockout. The appliance wires the tpm package in; nil when
// there is no usable TPM.
type TPM interface {
	LockoutStatus(ctx context.Context) (TPMLockout, error)
	// ResetLockout runs TPM2_DictionaryAttackLockReset with the lockout
	// authorization the appliance holds.
	ResetLockout(ctx context.Context) error
}

// ExportSigner is a TPM that signs audit exports: SigningKey is its key's
// fingerprint, as auditfile.KeyFingerprint writes it.
type ExportSigner interface {
	SigningKey(ctx context.Context) (string, error)
}

// TPMLockout is the TPM's dictionary-attack state: one counter for the
// whole terminal, whoever typed the wrong PINs.
type TPMLockout struct {
	Counter   uint32 `json:"counter"`     // TPM_PT_LOCKOUT_COUNTER
	Max       uint32 `json:"max"`         // TPM_PT_MAX_AUTH_FAIL
	Interval  int64  `json:"interval_s"`  // one failure forgotten this often (TPM_PT_LOCKOUT_INTERVAL)
	Recovery  int64  `json:"recovery_s"`  // TPM_PT_LOCKOUT_RECOVERY
	InLockout bool   `json:"in_lockout"`  // TPMA_PERMANENT.inLockout
	TimeLeft  int64  `json:"time_left_s"` // at most this long until PIN sign-in works again
	// Managed: the appliance set these parameters and can reset a
	// lockout; Source is where its lockout authorization comes from.
	Managed bool   `json:"managed"`
	Source  string `json:"source,omitempty"`
	Reason  string `json:"reason,omitempty"` // why not managed
}

// PINTriesStore is a Store that can lift a person's suspension after
// wrong TPM PINs, audited with who did it.
type PINTriesStore interface {
	ClearPINTries(userID string, ch Change) (had bool, err error)
}

// Unsuspended says whether there was anything to lift.
type Unsuspended struct {
	User     User `json:"user"`
	HadTries bool `json:"had_tries"`
}

func init() {
	handlers[CmdTPMLockout] = (*call).tpmLockout
	handlers[CmdTPMLockoutReset] = (*call).tpmLockoutReset
	handlers[CmdUsersUnsuspend] = (*call).usersUnsuspend
	handlers[CmdFleetKey] = (*call).fleetKey
}

func (c *call) tpm() (TPM, error) {
	if c.s.opts.TPM == nil {
		return nil, &Error{Code: ExitFailed, Kind: kiosk.KindNoTPM.String(), Message: "this terminal has no usable TPM"}
	}
	return c.s.opts.TPM, nil
}

func (c *call) tpmLockout() (any, error) {
	t, err := c.tpm()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return t.LockoutStatus(ctx)
}

func (c *call) tpmLockoutReset() (any, error) {
	t, err := c.tpm()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before, _ := t.LockoutStatus(ctx)
	resetErr := t.ResetLockout(ctx)
	if a, ok := c.s.opts.Store.(interface {
		TPMLockoutReset(before TPMLockout, err error, ch Change) error
	}); ok {
		if err := a.TPMLockoutReset(before, resetErr, c.peer.change(nil)); err != nil && resetErr == nil {
			return nil, err
		}
	}
	if resetErr != nil {
		return nil, resetErr
	}
	return t.LockoutStatus(ctx)
}

func (c *call) usersUnsuspend() (any, error) {
	u, err := c.userArg()
	if err != nil {
		return nil, err
	}
	s, ok := c.s.opts.Store.(PINTriesStore)
	if !ok {
		return nil, &Error{Code: ExitFailed, Kind: kiosk.KindStoreCorrupt.String(), Message: "the records cannot keep PIN tries"}
	}
	had, err := s.ClearPINTries(u.ID, c.peer.change(map[string]string{"pin-tries": "cleared"}))
	if err != nil {
		return nil, err
	}
	return Unsuspended{User: u, HadTries: had}, nil
}

// tpmHealth adds the TPM's lockout to the status: a TPM in lockout has
// paused PIN sign-in for everyone, which makes the terminal degraded.
func (c *call) tpmHealth(st *Status) {
	if c.s.opts.TPM == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s, ok := c.s.opts.TPM.(ExportSigner); ok {
		st.TPM.SigningKey, _ = s.SigningKey(ctx)
	}
	l, err := c.s.opts.TPM.LockoutStatus(ctx)
	if err != nil {
		return
	}
	st.TPM.Lockout = &l
	if l.InLockout && st.Health == "ok" {
		st.Health = "degraded"
		st.Degraded = append(st.Degraded, "TPM lockout: PIN sign-in is paused for everyone on this terminal for at most "+
			(time.Duration(l.TimeLeft)*time.Second).String()+" after too many wrong PINs (passkioskctl tpm lockout reset clears it)")
	}
}
