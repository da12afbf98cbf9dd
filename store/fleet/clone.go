package fleet

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Clone detection across terminals. A roaming key's signature counter
// only grows (WebAuthn §6.1.1): each terminal checks it against what it
// saw itself, but a clone used at another terminal is checked there
// against that terminal's own, older copy. So every terminal writes the
// counter it saw for a roaming credential to its own prefix
// (term/<name>/seen/<cred id>), and the fleet service runs a Detector
// over all of them: a credential seen at n on one terminal and at n or
// less later on another is suspected, written to dir/suspect/<cred id>,
// which every mirror audits (possible-clone), and revoked when the
// fleet's policy refuses suspected clones.

const suspectPrefix = DirPrefix + "suspect/"

// SuspectKey names a suspected credential in the directory.
func SuspectKey(id []byte) string { return suspectPrefix + hex.EncodeToString(id) }

// Suspect is a credential seen with a counter that went backwards across
// terminals: Counter at Terminal, after Earlier at EarlierTerminal.
type Suspect struct {
	CredentialID    []byte
	Counter         uint32
	Terminal        string
	At              time.Time
	Earlier         uint32
	EarlierTerminal string
	EarlierAt       time.Time
}

type suspectWire struct {
	V               uint   `cbor:"0,keyasint"`
	ID              []byte `cbor:"1,keyasint"`
	Counter         uint32 `cbor:"2,keyasint"`
	Terminal        string `cbor:"3,keyasint"`
	At              int64  `cbor:"4,keyasint"`
	Earlier         uint32 `cbor:"5,keyasint"`
	EarlierTerminal string `cbor:"6,keyasint"`
	EarlierAt       int64  `cbor:"7,keyasint"`
}

// EncodeSuspect is a value under SuspectKey.
func EncodeSuspect(s Suspect) ([]byte, error) {
	return encode("suspect", suspectWire{V: recordVersion, ID: s.CredentialID, Counter: s.Counter, Terminal: s.Terminal, At: store.Stamp(s.At),
		Earlier: s.Earlier, EarlierTerminal: s.EarlierTerminal, EarlierAt: store.Stamp(s.EarlierAt)})
}

// DecodeSuspect reads a value under SuspectKey.
func DecodeSuspect(b []byte) (Suspect, error) {
	w, err := decode("suspect", b, func(w *suspectWire) uint { return w.V })
	if err != nil {
		return Suspect{}, err
	}
	return Suspect{CredentialID: w.ID, Counter: w.Counter, Terminal: w.Terminal, At: store.Unstamp(w.At),
		Earlier: w.Earlier, EarlierTerminal: w.EarlierTerminal, EarlierAt: store.Unstamp(w.EarlierAt)}, nil
}

func (s Suspect) detail() map[string]string {
	return map[string]string{"counter": strconv.FormatUint(uint64(s.Counter), 10), "seen-at": s.Terminal,
		"earlier": strconv.FormatUint(uint64(s.Earlier), 10), "earlier-at": s.EarlierTerminal,
		"when": s.At.UTC().Format(time.RFC3339), "earlier-when": s.EarlierAt.UTC().Format(time.RFC3339)}
}

// observe queues the counter this terminal saw for a roaming credential;
// the agent writes it to the terminal's prefix. A full queue drops the
// observation (logged): a sign-in never waits for the network.
func (a *Agent) observe(cred []byte, counter uint32, at time.Time) {
	select {
	case a.seen <- Seen{CredentialID: cred, Counter: counter, At: at}:
	default:
		a.opts.Log.Warn("fleet: counter observation dropped; the queue is full", "credential", hex.EncodeToString(cred))
	}
}

// observations writes queued observations until ctx ends.
func (a *Agent) observations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-a.seen:
			v, err := EncodeSeen(s)
			if err != nil {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = a.opts.Client.Put(cctx, SeenKey(a.opts.Terminal, s.CredentialID), string(v))
			cancel()
			if err != nil {
				a.opts.Log.Warn("fleet: counter observation not written", "err", err)
			}
		}
	}
}

// Detector compares the terminals' counter observations: the fleet
// service runs it with the directory's write role.
type Detector struct {
	Client *clientv3.Client
	// Refuse revokes a suspected credential as well as reporting it
	// (the fleet's policy on suspected clones).
	Refuse bool
	Log    *slog.Logger
	Now    func() time.Time

	last map[string]Suspect // credential → highest counter seen, where and when
}

// Run reads every observation, then watches for new ones until ctx
// ends, writing a suspect record (and with Refuse a revocation) for each
// counter that went backwards across terminals.
func (d *Detector) Run(ctx context.Context) error {
	d.Log = kiosk.LogOr(d.Log)
	d.last = map[string]Suspect{}
	r, err := d.Client.Get(ctx, termPrefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	for _, kv := range r.Kvs {
		d.consider(ctx, string(kv.Key), kv.Value)
	}
	wch := d.Client.Watch(clientv3.WithRequireLeader(ctx), termPrefix, clientv3.WithPrefix(), clientv3.WithRev(r.Header.Revision+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypePut {
				d.consider(ctx, string(ev.Kv.Key), ev.Kv.Value)
			}
		}
	}
	return ctx.Err()
}

// consider compares one observation with the highest seen so far.
func (d *Detector) consider(ctx context.Context, key string, value []byte) {
	rest, ok := strings.CutPrefix(key, termPrefix)
	if !ok {
		return
	}
	terminal, rest, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(rest, "seen/") {
		return
	}
	s, err := DecodeSeen(value)
	if err != nil || s.Counter == 0 {
		return // a key without a counter tells nothing
	}
	id := string(s.CredentialID)
	prev, known := d.last[id]
	switch {
	case !known || s.Counter > prev.Counter:
		d.last[id] = Suspect{CredentialID: s.CredentialID, Counter: s.Counter, Terminal: terminal, At: s.At}
	case terminal != prev.Terminal && s.At.After(prev.At):
		sus := Suspect{CredentialID: s.CredentialID, Counter: s.Counter, Terminal: terminal, At: s.At,
			Earlier: prev.Counter, EarlierTerminal: prev.Terminal, EarlierAt: prev.At}
		if err := d.report(ctx, sus); err != nil {
			d.Log.Error("fleet: recording a suspected clone", "err", err)
		}
	}
}

// report writes the suspect record, and with Refuse revokes the
// credential in the same transaction.
func (d *Detector) report(ctx context.Context, s Suspect) error {
	v, err := EncodeSuspect(s)
	if err != nil {
		return err
	}
	ops := []clientv3.Op{clientv3.OpPut(SuspectKey(s.CredentialID), string(v))}
	if d.Refuse {
		now := time.Now
		if d.Now != nil {
			now = d.Now
		}
		rv, err := EncodeRevocation(Revocation{CredentialID: s.CredentialID, At: now(), By: "clone detection",
			Reason: fmt.Sprintf("counter %d at %s after %d at %s", s.Counter, s.Terminal, s.Earlier, s.EarlierTerminal)})
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpDelete(CredentialKey(s.CredentialID)), clientv3.OpPut(RevokedKey(s.CredentialID), string(rv)))
	}
	_, err = d.Client.Txn(ctx).Then(ops...).Commit()
	return err
}

// suspicion is the mirror's record of a suspect.
func (s Suspect) suspicion() store.Suspicion {
	return store.Suspicion{CredentialID: s.CredentialID, Detail: s.detail()}
}
