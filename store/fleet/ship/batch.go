package ship

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
)

// entry is one local entry ready to ship.
type entry struct {
	seq   uint64
	hash  []byte
	key   string
	value []byte
}

// next returns the local entries that continue the cluster's head, at
// most one batch of them, or errForked when the local chain does not
// continue it.
func (s *Shipper) next() ([]entry, error) {
	localSeq, localHash, err := s.db.AuditHead()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.st.Local = localSeq
	s.mu.Unlock()
	r := s.remote
	from := uint64(0) // the first kept entry, for a first shipping
	if r.present {
		switch {
		case localSeq < r.head.Seq:
			return nil, s.fork(Fork{Reason: "behind", LocalSeq: localSeq, LocalHash: localHash})
		case localSeq == r.head.Seq && !bytes.Equal(localHash, r.head.Hash):
			return nil, s.fork(Fork{Reason: "differs", LocalSeq: localSeq, LocalHash: localHash})
		case localSeq == r.head.Seq:
			s.clearFork()
			return nil, nil
		}
		from = r.head.Seq + 1
	}
	events, err := s.db.Events(from, s.o.Batch)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	if r.present {
		first := &events[0]
		if first.Seq != from {
			return nil, s.fork(Fork{Reason: "pruned", LocalSeq: first.Seq, LocalHash: first.Hash})
		}
		if !bytes.Equal(first.Prev, r.head.Hash) {
			return nil, s.fork(Fork{Reason: "differs", LocalSeq: first.Seq, LocalHash: first.Hash})
		}
	}
	s.clearFork()
	out := make([]entry, 0, len(events))
	size := 0
	for i := range events {
		e := &events[i]
		v, err := cbor.Marshal(e.Wire())
		if err != nil {
			return nil, kiosk.E(kiosk.KindMalformed, "ship audit entry", err)
		}
		if len(out) > 0 && size+len(v) > s.o.MaxBatchBytes {
			break
		}
		size += len(v)
		out = append(out, entry{seq: e.Seq, hash: e.Hash, key: fleet.AuditKey(s.o.Name, e.Seq), value: v})
	}
	return out, nil
}

// put ships one batch in one transaction (package doc). A lost answer
// leaves the outcome unknown: the head is read again before the next
// batch, and the put-if-absent comparisons make the retry harmless.
func (s *Shipper) put(ctx context.Context, batch []entry) error {
	headKey := fleet.AuditHeadKey(s.o.Name)
	last := batch[len(batch)-1]
	newHead, err := fleet.EncodeAuditHead(fleet.AuditHead{Seq: last.seq, Hash: last.hash})
	if err != nil {
		return err
	}
	cmps := make([]clientv3.Cmp, 0, len(batch)+1)
	if s.remote.present {
		cmps = append(cmps, clientv3.Compare(clientv3.Value(headKey), "=", string(s.remote.raw)))
	} else {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(headKey), "=", 0))
	}
	puts := make([]clientv3.Op, 0, len(batch)+1)
	for _, e := range batch {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(e.key), "=", 0))
		puts = append(puts, clientv3.OpPut(e.key, string(e.value)))
	}
	puts = append(puts, clientv3.OpPut(headKey, string(newHead)))
	tctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), s.o.Timeout)
	defer cancel()
	resp, err := s.cl.Txn(tctx).If(cmps...).Then(puts...).Else(
		clientv3.OpGet(headKey),
		clientv3.OpGet(batch[0].key, clientv3.WithRange(fleet.AuditKey(s.o.Name, last.seq+1))),
	).Commit()
	if err != nil {
		s.remote.known = false
		return fmt.Errorf("ship audit entries %d to %d: %w", batch[0].seq, last.seq, err)
	}
	if resp.Succeeded {
		if err := s.setRemote(newHead); err != nil {
			return err
		}
		s.mu.Lock()
		s.st.At = time.Now()
		s.mu.Unlock()
		return nil
	}
	return s.refused(resp, batch)
}

// refused works out why a batch's transaction did not apply: the head
// moved (an earlier try landed after all, or another shipper runs under
// this name), or an entry is already there.
func (s *Shipper) refused(resp *clientv3.TxnResponse, batch []entry) error {
	var raw []byte
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		raw = kvs[0].Value
	}
	if (raw != nil) != s.remote.present || !bytes.Equal(raw, s.remote.raw) {
		return s.setRemote(raw) // next() reconciles with the new head
	}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		_, seq, _ := fleet.ParseAuditKey(string(kv.Key))
		for _, e := range batch {
			if e.seq == seq && !bytes.Equal(e.value, kv.Value) {
				return s.fork(Fork{Reason: "exists", LocalSeq: e.seq, LocalHash: e.hash})
			}
		}
	}
	// The same bytes beyond the shipped head: written under this name
	// without moving the head, which this package never does.
	return s.fork(Fork{Reason: "exists", LocalSeq: batch[0].seq, LocalHash: batch[0].hash})
}

// fork stops shipping and raises the alarm once per shipped head.
func (s *Shipper) fork(f Fork) error {
	f.ShippedSeq, f.ShippedHash = s.remote.head.Seq, s.remote.head.Hash
	s.mu.Lock()
	s.st.Fork = &f
	s.mu.Unlock()
	id := fmt.Sprintf("%d %x", f.ShippedSeq, f.ShippedHash)
	if s.alarmed == id {
		return errForked
	}
	s.alarmed = id
	s.report = &f
	s.log.Error("fleet audit: FORK: this terminal's audit log does not continue the one it shipped to the fleet; shipping stopped until IT resolves it",
		"reason", f.Reason, "shipped_seq", f.ShippedSeq, "shipped_hash", fmt.Sprintf("%x", f.ShippedHash),
		"local_seq", f.LocalSeq, "local_hash", fmt.Sprintf("%x", f.LocalHash))
	_, err := s.db.Append(store.AuditEvent{Type: kiosk.EventAuditFork, Actor: "system", Terminal: s.o.Name,
		Detail: map[string]string{"reason": f.Reason, "fleet-name": s.o.Name,
			"shipped-seq": strconv.FormatUint(f.ShippedSeq, 10), "shipped-hash": fmt.Sprintf("%x", f.ShippedHash),
			"local-seq": strconv.FormatUint(f.LocalSeq, 10), "local-hash": fmt.Sprintf("%x", f.LocalHash)}})
	if err != nil {
		s.log.Error("fleet audit: the fork's audit entry could not be written", "err", err)
	}
	return errForked
}

func (s *Shipper) clearFork() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Fork != nil {
		s.log.Info("fleet audit: the local chain continues the shipped one again; shipping")
		s.st.Fork = nil
	}
}
