package fleet

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/store"
)

// batch collects a watch response's or a full load's keys, the last
// change of each key winning, and turns them into a store.MirrorBatch.
type batch struct {
	order []string
	last  map[string][]byte // nil value: deleted
}

func newBatch() *batch { return &batch{last: map[string][]byte{}} }

func (b *batch) put(k string, v []byte) {
	if _, ok := b.last[k]; !ok {
		b.order = append(b.order, k)
	}
	if v == nil {
		v = []byte{}
	}
	b.last[k] = v
}

func (b *batch) del(k string) {
	if _, ok := b.last[k]; !ok {
		b.order = append(b.order, k)
	}
	b.last[k] = nil
}

// idOf is the ID a key under prefix names, or nil.
func idOf(k, prefix string) []byte {
	id, err := hex.DecodeString(strings.TrimPrefix(k, prefix))
	if err != nil || len(id) == 0 {
		return nil
	}
	return id
}

// mirrorBatch decodes the collected keys. A value that does not decode
// is left out and logged: one bad record must not stop every revocation
// after it from reaching the terminal.
func (b *batch) mirrorBatch(rev int64, full bool, terminal string, log *slog.Logger) store.MirrorBatch {
	mb := store.MirrorBatch{Revision: rev, Full: full, Terminal: terminal}
	bad := func(k string, err error) {
		log.Error("fleet: a directory record does not decode; left out", "key", k, "err", err)
	}
	for _, k := range b.order {
		v := b.last[k]
		switch {
		case strings.HasPrefix(k, usersPrefix):
			id := idOf(k, usersPrefix)
			if v == nil {
				if id != nil {
					mb.RemovedUsers = append(mb.RemovedUsers, id)
				}
				continue
			}
			u, err := DecodeUser(v)
			if err != nil {
				bad(k, err)
				continue
			}
			mb.Users = append(mb.Users, u)
		case strings.HasPrefix(k, credsPrefix):
			id := idOf(k, credsPrefix)
			if v == nil {
				if id != nil {
					mb.RemovedCredentials = append(mb.RemovedCredentials, id)
				}
				continue
			}
			c, err := DecodeCredential(v)
			if err != nil {
				bad(k, err)
				continue
			}
			mb.Credentials = append(mb.Credentials, c)
		case strings.HasPrefix(k, revokedPrefix):
			if v == nil {
				continue // a revocation withdrawn does not bring the credential back
			}
			r, err := DecodeRevocation(v)
			if err != nil {
				bad(k, err)
				continue
			}
			mb.Revoked = append(mb.Revoked, store.Revocation{CredentialID: r.CredentialID, By: r.By, Reason: r.Reason})
		case strings.HasPrefix(k, suspectPrefix):
			if v == nil {
				continue
			}
			sp, err := DecodeSuspect(v)
			if err != nil {
				bad(k, err)
				continue
			}
			mb.Suspected = append(mb.Suspected, sp.suspicion())
		case strings.HasPrefix(k, dirTerminals):
			placeOf(&mb, k, v, terminal, log)
		case k == policyCurrent:
			if v == nil {
				continue
			}
			p, err := DecodePolicy(v)
			if err != nil {
				bad(k, err)
				continue
			}
			mb.Policy = &p
		}
	}
	return mb
}

// heartbeats writes the terminal's heartbeat under a lease of three
// periods, every period, with the revision its mirror holds: the fleet
// service sees which terminals are up and how far behind each is. A lost
// lease is granted again.
func (a *Agent) heartbeats(ctx context.Context) {
	period := a.opts.Heartbeat
	var lease clientv3.LeaseID
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		st := a.Status()
		hb, err := EncodeHeartbeat(Heartbeat{Revision: st.Revision, At: a.opts.Now(), OfflineSince: st.OfflineSince})
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, period)
			if lease == 0 {
				if g, gerr := a.opts.Client.Grant(cctx, int64(3*period/time.Second)+1); gerr == nil {
					lease = g.ID
				}
			}
			if lease != 0 {
				if _, err := a.opts.Client.Put(cctx, HeartbeatKey(a.opts.Terminal), string(hb), clientv3.WithLease(lease)); err != nil {
					lease = 0
				} else if _, err := a.opts.Client.KeepAliveOnce(cctx, lease); err != nil {
					lease = 0
				}
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
