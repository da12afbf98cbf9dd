package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/simulator"

	"passkiosk/kiosk"
	"passkiosk/tpm/swtpm"
)

// Transport names accepted in Config.Transport.
const (
	TransportDevice    = "device"
	TransportSwtpm     = "swtpm"
	TransportSimulator = "simulator"
)

// Default locations. DefaultDevices is tried in order: the kernel resource
// manager first, because it flushes what a crashed process left loaded and
// lets other TPM users share the chip; the raw device only as a fallback.
var DefaultDevices = []string{"/dev/tpmrm0", "/dev/tpm0"}

// Config chooses and tunes the TPM passkiosk uses.
type Config struct {
	// Transport is TransportDevice (the default when empty), TransportSwtpm
	// or TransportSimulator. The simulator is one per process: a second
	// Open of it waits until the first is closed.
	Transport string
	// Device is the character device; empty means DefaultDevices.
	Device string
	// Swtpm is the address of a swtpm data channel: "unix:/path/sock",
	// "tcp:127.0.0.1:2321", or a bare socket path.
	Swtpm string
	// SwtpmStateDir, with TransportSwtpm and no Swtpm address, makes Open
	// start its own swtpm process keeping its state in this directory, and
	// Close stop it. The demo uses it to keep enrolled TPM passkeys across
	// restarts, which the in-process simulator cannot (see doc.go).
	SwtpmStateDir string
	// CommandTimeout bounds one command on a socket transport
	// (default 30 s: a real RSA key creation takes up to 7.5 s).
	CommandTimeout time.Duration
	// SRKHandle is the persistent handle of the storage root key
	// (default DefaultSRKHandle).
	SRKHandle tpm2.TPMHandle
	// CounterIndex is the NV index of the signature counter
	// (default DefaultCounterIndex).
	CounterIndex tpm2.TPMHandle
	// OwnerAuth is the owner hierarchy's authorization value, needed once to
	// persist the SRK and define the counter. Empty on most machines.
	OwnerAuth []byte
	// DA, when set, are the dictionary-attack parameters Open applies
	// with the lockout authorization (daparams.go); nil leaves the chip's.
	DA *DAParams
	// LockoutAuth is IT's lockout authorization, read from a root-only
	// file, for a TPM whose lockout hierarchy already has one.
	LockoutAuth []byte
	// SealedLockoutAuth is what SaveSealedLockoutAuth stored last time.
	SealedLockoutAuth []byte
	// SaveSealedLockoutAuth stores the sealed lockout authorization Open
	// makes for a TPM whose lockout hierarchy has none; nil: Open never
	// changes the lockout authorization.
	SaveSealedLockoutAuth func(sealed []byte) error
	// KeepSession keeps one salted session open across sign-ins
	// (session.go): a sign-in is then five commands instead of six. The
	// session stays loaded in the TPM while it is open (Close flushes it).
	KeepSession bool
	// Logf receives operational messages (flush failures). Never PINs.
	Logf func(format string, args ...any)
}

// TPM is an open platform authenticator. It is safe for concurrent use:
// commands are serialised, because a TPM runs one command at a time and
// swtpm has no resource manager.
type TPM struct {
	mu     sync.Mutex
	t      transport.TPM
	closer func() error
	logf   func(string, ...any)

	srk     tpm2.NamedHandle
	srkPub  tpm2.TPMTPublic
	counter tpm2.NamedHandle
	owner   []byte
	akChain [][]byte
	// redefining is set while nextCounter re-creates a vanished index.
	redefining bool
	// counterValue is the counter as last read back after an increment,
	// when counterKnown (cachedCounter).
	counterValue uint64
	counterKnown bool
	// orderly: Close sends TPM2_Shutdown(CLEAR) (see Close).
	orderly bool
	// da is what Open found and did about the dictionary-attack
	// parameters; lockoutAuth is the authorization it used.
	da          DAStatus
	lockoutAuth []byte
	// kept is the session kept open across sign-ins, nil unless
	// Config.KeepSession.
	kept *keptSession
}

// Open opens the TPM cfg names and prepares it: checks that it is a usable
// TPM 2.0, makes sure the storage root key is persisted and the counter
// index defined. With no usable TPM it returns a kiosk.KindNoTPM error
// whose text says why, so the appliance can run with security keys only.
func Open(cfg Config) (*TPM, error) {
	const op = "tpm open"
	var (
		t   transport.TPMCloser
		err error
	)
	switch cfg.Transport {
	case "", TransportDevice:
		t, err = openDevice(cfg.Device)
	case TransportSwtpm:
		if cfg.Swtpm == "" && cfg.SwtpmStateDir != "" {
			t, err = spawnSwtpm(cfg.SwtpmStateDir, cfg.commandTimeout())
			break
		}
		t, err = DialSwtpm(cfg.Swtpm, cfg.commandTimeout())
	case TransportSimulator:
		t, err = simulator.OpenSimulator()
		if err != nil {
			err = kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("start simulator: %w", err))
		}
	default:
		err = kiosk.Errorf(kiosk.KindNoTPM, op, "unknown transport %q (want %q, %q or %q)",
			cfg.Transport, TransportDevice, TransportSwtpm, TransportSimulator)
	}
	if err != nil {
		return nil, err
	}
	return New(t, cfg)
}

// New prepares a TPM reached through t, which it takes over: Close closes
// it. Tests use it to put a counting transport in between.
func New(t transport.TPMCloser, cfg Config) (*TPM, error) {
	k := &TPM{
		t:       &retryingTPM{next: t, attempts: 12, sleep: time.Sleep},
		closer:  t.Close,
		logf:    cfg.Logf,
		owner:   cfg.OwnerAuth,
		orderly: cfg.Transport == TransportSwtpm || cfg.Transport == TransportSimulator,
	}
	if k.logf == nil {
		k.logf = func(string, ...any) {}
	}
	if err := k.setup(cfg); err != nil {
		if cerr := t.Close(); cerr != nil {
			k.logf("tpm: close after failed open: %v", cerr)
		}
		return nil, err
	}
	return k, nil
}

// Close closes the transport. Nothing stays loaded in the TPM between
// operations, so there is nothing to flush here.
//
// On swtpm and the simulator it first sends TPM2_Shutdown(CLEAR) (Part 3
// §9.4): a TPM stopped without it takes the stop for a power cut and
// counts one dictionary-attack failure at its next start, so every restart
// of the appliance would cost a try. A real chip behind /dev/tpmrm0 is
// left alone: it keeps running when the appliance stops, and the kernel
// sends the shutdown when the machine powers off.
func (k *TPM) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closer == nil {
		return nil
	}
	if k.kept != nil {
		k.kept.forget(k.t)
	}
	if k.orderly {
		if _, err := (tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}).Execute(k.t); err != nil {
			k.logf("tpm: TPM2_Shutdown(CLEAR): %v", err)
		}
	}
	err := k.closer()
	k.closer = nil
	return err
}

func (k *TPM) setup(cfg Config) error {
	if err := k.probe(); err != nil {
		return err
	}
	srkHandle := cfg.SRKHandle
	if srkHandle == 0 {
		srkHandle = DefaultSRKHandle
	}
	index := cfg.CounterIndex
	if index == 0 {
		index = DefaultCounterIndex
	}
	if err := checkHandles(srkHandle, index); err != nil {
		return err
	}
	if err := k.ensureSRK(srkHandle); err != nil {
		return err
	}
	if err := k.ensureCounter(index); err != nil {
		return err
	}
	k.manageDA(cfg)
	if cfg.KeepSession {
		k.kept = newKeptSession(k)
	}
	return nil
}

// checkHandles refuses handles outside the ranges TPM 2.0 Part 2 §7.3 gives
// owner persistent objects (0x81000000–0x817FFFFF) and NV indices
// (0x01000000–0x01FFFFFF).
func checkHandles(srk, index tpm2.TPMHandle) error {
	if srk < 0x81000000 || srk > 0x817FFFFF {
		return kiosk.Errorf(kiosk.KindNoTPM, "tpm open", "SRKHandle 0x%08x is not an owner persistent handle", uint32(srk))
	}
	if index>>24 != 0x01 {
		return kiosk.Errorf(kiosk.KindNoTPM, "tpm open", "CounterIndex 0x%08x is not an NV index", uint32(index))
	}
	return nil
}

func (c Config) commandTimeout() time.Duration {
	if c.CommandTimeout > 0 {
		return c.CommandTimeout
	}
	return 30 * time.Second
}

// openDevice opens the first usable TPM character device and explains in
// the error why none is usable.
func openDevice(path string) (transport.TPMCloser, error) {
	const op = "tpm open device"
	paths := DefaultDevices
	if path != "" {
		paths = []string{path}
	}
	var reasons []string
	for _, p := range paths {
		if v := sysfsMajorVersion(p); v == "1" {
			return nil, kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("%s: %w", p, errTPM12))
		}
		t, err := linuxtpm.Open(p)
		if err == nil {
			return t, nil
		}
		reasons = append(reasons, deviceReason(p, err))
	}
	return nil, kiosk.Errorf(kiosk.KindNoTPM, op, "%s", strings.Join(reasons, "; "))
}

func deviceReason(path string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist (no TPM, or the firmware TPM is disabled in setup)"
	case errors.Is(err, fs.ErrPermission):
		return path + ": permission denied (the service user must be in group tss)"
	case errors.Is(err, syscall.EBUSY):
		return path + " is busy: another program holds the raw TPM device"
	case errors.Is(err, linuxtpm.ErrFileIsNotDevice):
		return path + " is not a character device"
	}
	return fmt.Sprintf("%s: %v", path, err)
}

// sysfsMajorVersion reads the TPM family the kernel reports for a device
// node ("1" or "2"), or "" when sysfs does not say.
func sysfsMajorVersion(dev string) string {
	name := strings.TrimPrefix(filepath.Base(dev), "tpmrm")
	name = "tpm" + strings.TrimPrefix(name, "tpm")
	b, err := os.ReadFile(filepath.Join("/sys/class/tpm", name, "tpm_version_major"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DialSwtpm connects to a swtpm data channel ("unix:/path", "tcp:host:port"
// or a bare socket path); every command on it is bounded by timeout.
func DialSwtpm(addr string, timeout time.Duration) (transport.TPMCloser, error) {
	const op = "tpm open swtpm"
	network, address := "unix", addr
	switch {
	case addr == "":
		return nil, kiosk.Errorf(kiosk.KindNoTPM, op, "no swtpm address configured")
	case strings.HasPrefix(addr, "unix:"):
		address = strings.TrimPrefix(addr, "unix:")
	case strings.HasPrefix(addr, "tcp:"):
		network, address = "tcp", strings.TrimPrefix(addr, "tcp:")
	}
	s, err := dialStream(network, address, timeout)
	if err != nil {
		return nil, kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("connect to swtpm at %s: %w", addr, err))
	}
	return s, nil
}

// spawnSwtpm starts a swtpm process in dir and connects to it; closing
// the connection stops the process.
func spawnSwtpm(dir string, timeout time.Duration) (transport.TPMCloser, error) {
	p, err := swtpm.Start(context.Background(), dir)
	if err != nil {
		return nil, err
	}
	t, err := DialSwtpm(p.Address(), timeout)
	if err != nil {
		if serr := p.Stop(); serr != nil {
			err = fmt.Errorf("%w (and %v)", err, serr)
		}
		return nil, err
	}
	return closerTPM{TPM: t, close: func() error {
		return errors.Join(t.Close(), p.Stop())
	}}, nil
}

// probe checks that the other end is a started, enabled TPM 2.0. It sends
// TPM2_GetCapability by hand so that a TPM 1.2, which answers with a 1.2
// response tag, is recognised rather than reported as a parse error.
func (k *TPM) probe() error {
	const op = "tpm probe"
	for attempt := 0; attempt < 2; attempt++ {
		rsp, err := k.t.Send(getCapabilityCommand(tpm2.TPMCapTPMProperties, uint32(tpm2.TPMPTStartupClear), 1))
		if err != nil {
			return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_GetCapability: %w", err))
		}
		if len(rsp) < headerSize {
			return kiosk.Errorf(kiosk.KindNoTPM, op, "short response (%d bytes)", len(rsp))
		}
		if tag := binary.BigEndian.Uint16(rsp); tag == 0x00C4 {
			// TPM_TAG_RSP_COMMAND, TPM 1.2 Main Part 2 §6.
			return kiosk.E(kiosk.KindNoTPM, op, errTPM12)
		}
		rc, _ := responseCode(rsp)
		switch {
		case rc == tpm2.TPMRCInitialize && attempt == 0:
			// Nobody sent TPM2_Startup yet: a swtpm started without
			// startup-clear. Firmware does this for a real chip (Part 3 §9.3).
			if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(k.t); err != nil {
				return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_Startup: %w", err))
			}
			continue
		case rc == tpm2.TPMRCFailure:
			return kiosk.Errorf(kiosk.KindNoTPM, op, "the TPM is in failure mode")
		case rc != tpm2.TPMRCSuccess:
			return kiosk.E(kiosk.KindNoTPM, op, fmt.Errorf("TPM2_GetCapability: %w", rc))
		}
		break
	}
	props, err := k.properties(tpm2.TPMPTStartupClear, 1)
	if err != nil {
		return kiosk.E(kiosk.KindNoTPM, op, err)
	}
	// TPMA_STARTUP_CLEAR bit 1 is shEnable (Part 2 §8.7): with the storage
	// hierarchy off, no key can be created or loaded under the owner.
	if props[tpm2.TPMPTStartupClear]&(1<<1) == 0 {
		return kiosk.Errorf(kiosk.KindNoTPM, op, "the TPM's storage hierarchy is disabled")
	}
	return nil
}

func getCapabilityCommand(capability tpm2.TPMCap, property, count uint32) []byte {
	b := make([]byte, 22)
	binary.BigEndian.PutUint16(b[0:], uint16(tpm2.TPMSTNoSessions))
	binary.BigEndian.PutUint32(b[2:], 22)
	binary.BigEndian.PutUint32(b[6:], uint32(tpm2.TPMCCGetCapability))
	binary.BigEndian.PutUint32(b[10:], uint32(capability))
	binary.BigEndian.PutUint32(b[14:], property)
	binary.BigEndian.PutUint32(b[18:], count)
	return b
}

// properties reads count TPM properties starting at first.
func (k *TPM) properties(first tpm2.TPMPT, count uint32) (map[tpm2.TPMPT]uint32, error) {
	rsp, err := (tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(first),
		PropertyCount: count,
	}).Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_GetCapability: %w", err)
	}
	list, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return nil, fmt.Errorf("TPM2_GetCapability: %w", err)
	}
	out := make(map[tpm2.TPMPT]uint32, len(list.TPMProperty))
	for _, p := range list.TPMProperty {
		out[p.Property] = p.Value
	}
	return out, nil
}

// flush flushes a transient handle and logs, never drops, a failure.
func (k *TPM) flush(h tpm2.TPMHandle) {
	if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(k.t); err != nil {
		k.logf("tpm: TPM2_FlushContext 0x%08x: %v", uint32(h), err)
	}
}
