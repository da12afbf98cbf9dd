package softkey

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"sync/atomic"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/softkey/internal/pinproto"
	"passkiosk/kiosk"
)

// DefaultAAGUID identifies the virtual key model when Config.AAGUID is zero.
// It is a random value minted for this project, not any vendor's.
var DefaultAAGUID = fido.AAGUID{0x7a, 0x1e, 0x5c, 0x0d, 0x2b, 0x44, 0x4f, 0x8e, 0x9d, 0x31, 0x6a, 0x0c, 0x51, 0x17, 0xe2, 0x93}

// Limits of the key. The PIN retry numbers are the ones CTAP 2.1 §6.5.2.2
// prescribes; the fingerprint count is what shipping keys use.
const (
	maxPINRetries         = 8
	maxConsecutivePINFail = 3
	maxUVRetries          = 5
	minPINLength          = 4
	maxCredentials        = 50
	maxCredentialIDLen    = 64
	maxCredsInList        = 16
)

// Config describes a key when it is made.
type Config struct {
	// AAGUID of the key model; zero means DefaultAAGUID.
	AAGUID fido.AAGUID
	// StatePath is the file that holds the key's secrets and counters; ""
	// keeps everything in memory for the life of the Key.
	StatePath string
	// PIN, when not empty, is set as the key's PIN if the key is new (no
	// state file yet). Tests use it to skip the setPIN ceremony.
	PIN string
	// Fingerprint gives the key a built-in fingerprint sensor with one
	// enrolled finger: getInfo then reports the "uv" option as true.
	Fingerprint bool
	// TouchTimeout bounds every wait for a touch or a finger; zero means 30 s.
	TouchTimeout time.Duration
	// MessageTimeout bounds the gap between the packets of one CTAPHID
	// message; zero means 500 ms.
	MessageTimeout time.Duration
	// KeepaliveInterval is how often KEEPALIVE goes out during a long
	// command; zero means 100 ms (CTAP 2.1 §11.2.9.2.1).
	KeepaliveInterval time.Duration
	// ResetWindow is how long after plug-in authenticatorReset is allowed;
	// zero means 10 s (CTAP 2.1 §6.6).
	ResetWindow time.Duration
	// PINProtocols are the PIN/UV auth protocols offered, in order of
	// preference; nil means [2, 1]. [1] makes a key like the many that
	// predate CTAP 2.1, so hosts' protocol 1 path can be tested.
	PINProtocols []int
}

func (c *Config) fill() {
	if c.AAGUID == (fido.AAGUID{}) {
		c.AAGUID = DefaultAAGUID
	}
	c.TouchTimeout = kiosk.OrDefault(c.TouchTimeout, 30*time.Second)
	c.MessageTimeout = kiosk.OrDefault(c.MessageTimeout, 500*time.Millisecond)
	c.KeepaliveInterval = kiosk.OrDefault(c.KeepaliveInterval, 100*time.Millisecond)
	c.ResetWindow = kiosk.OrDefault(c.ResetWindow, 10*time.Second)
	if c.PINProtocols == nil {
		c.PINProtocols = []int{2, 1}
	}
}

// TouchMode says how the simulated person answers a request for a touch.
type TouchMode int

const (
	// TouchGiven touches at once.
	TouchGiven TouchMode = iota
	// TouchAfterDelay touches after the delay; the key sends KEEPALIVE with
	// status UPNEEDED meanwhile.
	TouchAfterDelay
	// TouchRefused waits for the delay and then declines, as a key does when
	// its button is held to refuse: CTAP2_ERR_OPERATION_DENIED.
	TouchRefused
	// TouchNever leaves the key waiting until Key.Touch is called or the touch
	// timeout passes (CTAP2_ERR_USER_ACTION_TIMEOUT).
	TouchNever
)

// Fault is a misbehaviour the key can be told to show. Faults stay in effect
// until SetFault(None), except UnplugMidOperation, which fires once.
// Framing and encoding faults apply to the replies of makeCredential,
// getAssertion and getNextAssertion, so a host can still open the key; the
// framing faults (WrongChannel, TruncatedFrame, OversizedLength) to their
// error replies too.
type Fault int

const (
	None Fault = iota
	// MalformedCBOR replies with status OK and a body that is not CBOR.
	MalformedCBOR
	// WrongChannel sends the reply on a channel the host did not use; the
	// host's own channel then stays busy until it cancels (the answer is
	// KEEPALIVE_CANCEL), resynchronises, or the touch timeout passes.
	WrongChannel
	// TruncatedFrame announces the full length, or one byte more than an
	// initialization packet holds when the reply is shorter, but sends
	// only the first packet, then a fresh initialization packet where a
	// continuation should be.
	TruncatedFrame
	// OversizedLength announces a payload longer than CTAPHID allows.
	OversizedLength
	// BadSignature signs something other than authData ‖ clientDataHash:
	// the DER is well formed but the signature does not verify.
	BadSignature
	// CounterBackwards makes the signature counter go down.
	CounterBackwards
	// UnplugMidOperation pulls the key out while it works on the next
	// credential operation.
	UnplugMidOperation
)

// UnplugDuringPIN pulls the key out while it works on the next clientPIN
// getKeyAgreement, the first step of the PIN exchange: the person typed
// their PIN and pulled the key as the host began to send it. One-shot,
// like UnplugMidOperation. Its number stands apart
// from the faults above, whose list is closed.
const UnplugDuringPIN Fault = 100

var faultNames = [...]string{"None", "MalformedCBOR", "WrongChannel", "TruncatedFrame", "OversizedLength", "BadSignature", "CounterBackwards", "UnplugMidOperation"}

func (f Fault) String() string {
	if f == UnplugDuringPIN {
		return "UnplugDuringPIN"
	}
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(?)"
}

// Key is one virtual security key. It is safe for concurrent use.
type Key struct {
	cfg Config

	// mu guards st, pc and conn. Command handlers hold it except while they
	// wait for a person (see waitLocked).
	mu   sync.Mutex
	st   *state
	pc   powerCycle
	conn *Conn

	// sw guards the test switches, so that tests can flip them while a
	// command waits with mu released or held.
	sw          sync.Mutex
	touchMode   TouchMode
	touchDelay  time.Duration
	fingerMatch bool
	fault       Fault
	winks       int

	touched chan struct{}
	// awaiting counts requests waiting for a touch now.
	awaiting atomic.Int32
}

// powerCycle is what a key forgets when it loses power (CTAP 2.1 §6.5.2.2
// and §6.5.5.1: the consecutive-mismatch count, the key agreement key and
// the pinUvAuthToken all live only until the next power-up).
type powerCycle struct {
	plugged          time.Time
	consecutiveFails int
	keyAgreement     *ecdh.PrivateKey
	token            pinToken
	next             *nextAssertion
}

// pinToken is the current pinUvAuthToken and its state (CTAP 2.1 §6.5.2.1).
type pinToken struct {
	value       []byte
	valid       bool
	protocol    int
	permissions int
	rpID        string
	userPresent bool
	issued      time.Time
}

// tokenLifetime caps how long a pinUvAuthToken stays usable (CTAP 2.1
// §6.5.2.1 maximum usage time period).
const tokenLifetime = 10 * time.Minute

// New makes a key, loading its state file when one exists.
func New(cfg Config) (*Key, error) {
	cfg.fill()
	for _, v := range cfg.PINProtocols {
		if pinproto.ByVersion(v) == nil {
			return nil, kiosk.Errorf(kiosk.KindPolicy, errOp, "no PIN/UV auth protocol %d", v)
		}
	}
	cfg.PINProtocols = append([]int(nil), cfg.PINProtocols...)
	st, err := loadOrCreate(cfg)
	if err != nil {
		return nil, err
	}
	k := &Key{cfg: cfg, st: st, fingerMatch: true, touched: make(chan struct{}, 1)}
	return k, nil
}

// Plug attaches the key to a USB port: the key powers up and returns the
// connection the host talks to. Plugging a key that is plugged in pulls it
// out first.
func (k *Key) Plug() *Conn {
	k.mu.Lock()
	old := k.conn
	k.mu.Unlock()
	if old != nil {
		old.Unplug()
	}
	c := newConn(k)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conn = c
	k.powerUpLocked()
	return c
}

// powerUpLocked starts a power cycle: a fresh key agreement key and token,
// no consecutive PIN failures.
func (k *Key) powerUpLocked() {
	k.pc = powerCycle{plugged: time.Now()}
	k.regenerateKeyAgreementLocked()
	k.pc.token = pinToken{value: randomBytes(32)}
}

func (k *Key) regenerateKeyAgreementLocked() {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic("softkey: generating key agreement key: " + err.Error())
	}
	k.pc.keyAgreement = priv
}

func (k *Key) unplugged(c *Conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == c {
		k.conn = nil
		k.pc.next = nil
	}
}

// Plugged reports whether the key is attached.
func (k *Key) Plugged() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.conn != nil
}

// SetTouch sets how the simulated person answers requests for a touch.
func (k *Key) SetTouch(mode TouchMode, delay time.Duration) {
	k.sw.Lock()
	defer k.sw.Unlock()
	k.touchMode, k.touchDelay = mode, delay
}

// Touch touches the key once. It answers a wait in TouchNever mode (the
// demo's "touch" button); a touch nobody waits for is forgotten. It
// reports whether a request was waiting for it.
func (k *Key) Touch() bool {
	if k.awaiting.Load() == 0 {
		return false
	}
	select {
	case k.touched <- struct{}{}:
		return true
	default:
		return false
	}
}

// SetFingerprint decides whether the next built-in UV attempts match.
func (k *Key) SetFingerprint(match bool) {
	k.sw.Lock()
	defer k.sw.Unlock()
	k.fingerMatch = match
}

// SetFault makes the key misbehave; None restores normal behaviour.
func (k *Key) SetFault(f Fault) {
	k.sw.Lock()
	defer k.sw.Unlock()
	k.fault = f
}

// takePINFault reports whether UnplugDuringPIN is set, and clears it.
func (k *Key) takePINFault() bool {
	k.sw.Lock()
	defer k.sw.Unlock()
	if k.fault != UnplugDuringPIN {
		return false
	}
	k.fault = None
	return true
}

// takeFault returns the fault for a credential operation and clears the
// one-shot ones.
func (k *Key) takeFault() Fault {
	k.sw.Lock()
	defer k.sw.Unlock()
	f := k.fault
	if f == UnplugMidOperation {
		k.fault = None
	}
	return f
}

// Winks counts the CTAPHID_WINK requests the key has seen.
func (k *Key) Winks() int {
	k.sw.Lock()
	defer k.sw.Unlock()
	return k.winks
}

// PINRetries is the number of PIN attempts left (CTAP 2.1 pinRetries).
func (k *Key) PINRetries() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st.PINRetries
}

// UVRetries is the number of fingerprint attempts left.
func (k *Key) UVRetries() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st.UVRetries
}

// PINSet reports whether the key has a PIN.
func (k *Key) PINSet() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.st.PINHash) > 0
}

// Counter is the key's global signature counter.
func (k *Key) Counter() uint32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st.Counter
}

// AAGUID is the key model's AAGUID.
func (k *Key) AAGUID() fido.AAGUID { return k.cfg.AAGUID }

// Credential describes one credential on the key, without its private key.
type Credential struct {
	ID           []byte
	RPID         string
	UserID       []byte
	UserName     string
	DisplayName  string
	Discoverable bool
	CredProtect  int
	Created      time.Time
}

// Credentials lists the credentials on the key, oldest first.
func (k *Key) Credentials() []Credential {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]Credential, 0, len(k.st.Creds))
	for _, c := range k.st.Creds {
		out = append(out, Credential{
			ID: clone(c.ID), RPID: c.RPID, UserID: clone(c.UserID),
			UserName: c.UserName, DisplayName: c.DisplayName,
			Discoverable: c.Discoverable, CredProtect: c.CredProtect,
			Created: time.Unix(c.Created, 0),
		})
	}
	return out
}

// AttestationRoot is the test CA that issued the key's attestation
// certificate: the trust anchor a relying party configures for this model.
func (k *Key) AttestationRoot() *x509.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st.att.root
}

// AttestationRoots is AttestationRoot as a pool, ready for
// fido.RegistrationInput.TrustAnchors.
func (k *Key) AttestationRoots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(k.AttestationRoot())
	return p
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("softkey: random: " + err.Error())
	}
	return b
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// errOp is the op name of errors from this package.
const errOp = "softkey"
