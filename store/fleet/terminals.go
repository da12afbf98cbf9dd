package fleet

import (
	"context"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
)

// Terminal is IT's inventory record of one terminal: where it stands and
// the labels policy rules may target. It lives in the directory, so every
// terminal's watch sees its own record change.
type Terminal struct {
	Name   string
	Site   string
	Ward   string
	Labels map[string]string
	// Updated and UpdatedBy: when and by which administrator.
	Updated   time.Time
	UpdatedBy string
}

type terminalWire struct {
	V         uint              `cbor:"0,keyasint"`
	Name      string            `cbor:"1,keyasint"`
	Site      string            `cbor:"2,keyasint,omitempty"`
	Ward      string            `cbor:"3,keyasint,omitempty"`
	Labels    map[string]string `cbor:"4,keyasint,omitempty"`
	Updated   int64             `cbor:"5,keyasint,omitempty"`
	UpdatedBy string            `cbor:"6,keyasint,omitempty"`
}

// dirTerminals holds one Terminal per name.
const dirTerminals = DirPrefix + "terminals/"

// TerminalKey names terminal name's inventory record.
func TerminalKey(name string) string { return dirTerminals + name }

// ValidLabel says whether k=v can be a terminal label
// (policy.ValidLabel: the policy's place rules check theirs the same way).
func ValidLabel(k, v string) error { return policy.ValidLabel(k, v) }

// EncodeTerminal is a value under TerminalKey.
func EncodeTerminal(t Terminal) ([]byte, error) {
	if err := ValidTerminalName(t.Name); err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "encode terminal", err)
	}
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		if err := ValidLabel(k, t.Labels[k]); err != nil {
			return nil, kiosk.E(kiosk.KindMalformed, "encode terminal", err)
		}
	}
	return encode("terminal", terminalWire{V: recordVersion, Name: t.Name, Site: t.Site, Ward: t.Ward, Labels: t.Labels,
		Updated: store.Stamp(t.Updated), UpdatedBy: t.UpdatedBy})
}

// DecodeTerminal reads a value under TerminalKey.
func DecodeTerminal(b []byte) (Terminal, error) {
	w, err := decode("terminal", b, func(w *terminalWire) uint { return w.V })
	if err != nil {
		return Terminal{}, err
	}
	return Terminal{Name: w.Name, Site: w.Site, Ward: w.Ward, Labels: w.Labels, Updated: store.Unstamp(w.Updated), UpdatedBy: w.UpdatedBy}, nil
}

// PutTerminal creates or replaces terminal t.Name's inventory record.
func (d *Directory) PutTerminal(ctx context.Context, t Terminal, by string) (int64, error) {
	t.Updated, t.UpdatedBy = d.now(), by
	v, err := EncodeTerminal(t)
	if err != nil {
		return 0, err
	}
	r, err := d.Client.Put(ctx, TerminalKey(t.Name), string(v))
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, "put terminal", err)
	}
	return r.Header.Revision, nil
}

// Terminals lists the inventory, by name. A record that does not decode
// is an error naming its key: IT must see it rather than miss a terminal.
func (d *Directory) Terminals(ctx context.Context) ([]Terminal, error) {
	const op = "list terminals"
	r, err := d.Client.Get(ctx, dirTerminals, clientv3.WithPrefix())
	if err != nil {
		return nil, kiosk.E(kiosk.KindOffline, op, err)
	}
	ts := make([]Terminal, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		t, err := DecodeTerminal(kv.Value)
		if err != nil {
			return nil, kiosk.Errorf(kiosk.KindMalformed, op, "%s: %v", kv.Key, err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}
