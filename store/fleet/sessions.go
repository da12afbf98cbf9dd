package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Sessions across the fleet: each terminal publishes the session in
// progress (who, since when, until when; nothing secret) under its own
// prefix, and ends it when the fleet service writes an end request
// there (passkioskctl --fleet sessions end). The terminal's engine ends
// the session and audits the end; the terminal audits the request with
// the administrator who made it.

// StateKey and EndKey are keys under TerminalPrefix.
func StateKey(name string) string { return TerminalPrefix(name) + "state" }
func EndKey(name string) string   { return TerminalPrefix(name) + "end" }

// TermSession is the session in progress at a terminal.
type TermSession struct {
	UserID      []byte
	DisplayName string
	Started     time.Time
	EndsAt      time.Time
}

// TermState is what a terminal publishes about itself under StateKey:
// its session (nil: none), its build, why it is out of service ("" in
// service) and the answer to the last end request.
type TermState struct {
	Session      *TermSession
	At           time.Time
	Build        string
	OutOfService string
	// LastEnd is the ID of the last end request the terminal answered,
	// and Ended whether it ended the session.
	LastEnd []byte
	Ended   bool
}

type termSessionWire struct {
	UserID      []byte `cbor:"1,keyasint"`
	DisplayName string `cbor:"2,keyasint,omitempty"`
	Started     int64  `cbor:"3,keyasint"`
	EndsAt      int64  `cbor:"4,keyasint,omitempty"`
}

type termStateWire struct {
	V       uint             `cbor:"0,keyasint"`
	Session *termSessionWire `cbor:"1,keyasint,omitempty"`
	At      int64            `cbor:"2,keyasint"`
	LastEnd []byte           `cbor:"3,keyasint,omitempty"`
	Ended   bool             `cbor:"4,keyasint,omitempty"`
	Build   string           `cbor:"5,keyasint,omitempty"`
	OOS     string           `cbor:"6,keyasint,omitempty"`
}

// EncodeTermState is a value under StateKey.
func EncodeTermState(s TermState) ([]byte, error) {
	w := termStateWire{V: recordVersion, At: store.Stamp(s.At), LastEnd: s.LastEnd, Ended: s.Ended, Build: s.Build, OOS: s.OutOfService}
	if x := s.Session; x != nil {
		w.Session = &termSessionWire{UserID: x.UserID, DisplayName: x.DisplayName, Started: store.Stamp(x.Started), EndsAt: store.Stamp(x.EndsAt)}
	}
	return encode("terminal state", w)
}

// DecodeTermState reads a value under StateKey.
func DecodeTermState(b []byte) (TermState, error) {
	w, err := decode("terminal state", b, func(w *termStateWire) uint { return w.V })
	if err != nil {
		return TermState{}, err
	}
	s := TermState{At: store.Unstamp(w.At), LastEnd: w.LastEnd, Ended: w.Ended, Build: w.Build, OutOfService: w.OOS}
	if x := w.Session; x != nil {
		s.Session = &TermSession{UserID: x.UserID, DisplayName: x.DisplayName, Started: store.Unstamp(x.Started), EndsAt: store.Unstamp(x.EndsAt)}
	}
	return s, nil
}

// EndRequest asks a terminal to end the session of UserID.
type EndRequest struct {
	ID     []byte
	UserID []byte
	By     string
	At     time.Time
}

type endRequestWire struct {
	V      uint   `cbor:"0,keyasint"`
	ID     []byte `cbor:"1,keyasint"`
	UserID []byte `cbor:"2,keyasint"`
	By     string `cbor:"3,keyasint"`
	At     int64  `cbor:"4,keyasint"`
}

// EncodeEndRequest is a value under EndKey.
func EncodeEndRequest(r EndRequest) ([]byte, error) {
	return encode("end request", endRequestWire{V: recordVersion, ID: r.ID, UserID: r.UserID, By: r.By, At: store.Stamp(r.At)})
}

// DecodeEndRequest reads a value under EndKey.
func DecodeEndRequest(b []byte) (EndRequest, error) {
	w, err := decode("end request", b, func(w *endRequestWire) uint { return w.V })
	if err != nil {
		return EndRequest{}, err
	}
	return EndRequest{ID: w.ID, UserID: w.UserID, By: w.By, At: store.Unstamp(w.At)}, nil
}

// EndRequestTTL is how long an end request stands: a terminal that sees
// it later (it was offline) refuses it, since the administrator was told
// it did not answer.
const EndRequestTTL = time.Minute

// RequestEnd writes an end request for terminal's session of user and
// returns its ID.
func (d *Directory) RequestEnd(ctx context.Context, terminal string, user []byte, by string) ([]byte, error) {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	v, err := EncodeEndRequest(EndRequest{ID: id, UserID: user, By: by, At: d.now()})
	if err != nil {
		return nil, err
	}
	if _, err := d.Client.Put(ctx, EndKey(terminal), string(v)); err != nil {
		return nil, kiosk.E(kiosk.KindOffline, "request session end", err)
	}
	return id, nil
}

// SessionLink is a terminal's side: it publishes the session in progress
// and answers end requests.
type SessionLink struct {
	Client   *clientv3.Client
	Terminal string
	// Current is the session in progress, nil for none.
	Current func() *TermSession
	// OutOfService, if set, says why the terminal signs no one in (""
	// while it does); Build is its build, both published with the
	// session.
	OutOfService func() string
	Build        string
	// End ends the session of r.UserID if it is the one in progress,
	// audits the request with r.By, and says whether it ended it.
	End func(r EndRequest) bool
	// Every is how often Current is looked at; 0 means one second.
	Every time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// Run publishes and answers until ctx ends, watching again after a
// watch ends (a member away, no leader).
func (s *SessionLink) Run(ctx context.Context) {
	st := &linkState{}
	for ctx.Err() == nil {
		if err := s.watch(ctx, st); err != nil && ctx.Err() == nil {
			s.log().Warn("fleet sessions: watch ended; watching again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// linkState is what the link published last.
type linkState struct {
	published TermState
	ok        bool
}

func (s *SessionLink) log() *slog.Logger { return kiosk.LogOr(s.Log) }

func (s *SessionLink) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// watch reads a pending request, then watches for new ones while
// publishing the session as it changes.
func (s *SessionLink) watch(ctx context.Context, st *linkState) error {
	r, err := s.Client.Get(ctx, EndKey(s.Terminal))
	if err != nil {
		return err
	}
	for _, kv := range r.Kvs {
		s.answer(ctx, st, kv)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.Client.Watch(wctx, EndKey(s.Terminal), clientv3.WithRev(r.Header.Revision+1))
	tick := time.NewTicker(kiosk.OrDefault(s.Every, time.Second))
	defer tick.Stop()
	for {
		s.publish(ctx, st, nil, false)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				return wr.Err()
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypePut {
					s.answer(ctx, st, ev.Kv)
				}
			}
		}
	}
}

// answer handles one end request: ends the session (or refuses a
// request older than EndRequestTTL), publishes the answer and deletes
// the request if it is still the one answered.
func (s *SessionLink) answer(ctx context.Context, st *linkState, kv *mvccpb.KeyValue) {
	req, err := DecodeEndRequest(kv.Value)
	ended := false
	switch {
	case err != nil:
		s.log().Error("fleet sessions: an end request does not decode; dropped", "err", err)
	case s.now().Sub(req.At) > EndRequestTTL:
		s.log().Warn("fleet sessions: an end request came too late; refused", "by", req.By, "asked", req.At)
	default:
		ended = s.End(req)
	}
	if err == nil {
		s.publish(ctx, st, &req.ID, ended)
	}
	key := string(kv.Key)
	if _, err := s.Client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).Then(clientv3.OpDelete(key)).Commit(); err != nil {
		s.log().Warn("fleet sessions: the answered end request could not be deleted", "err", err)
	}
}

// publish writes the terminal's state when the session changed or an
// end request was answered (id: its ID).
func (s *SessionLink) publish(ctx context.Context, st *linkState, id *[]byte, ended bool) {
	next := TermState{Session: s.Current(), At: s.now(), Build: s.Build, LastEnd: st.published.LastEnd, Ended: st.published.Ended}
	if s.OutOfService != nil {
		next.OutOfService = s.OutOfService()
	}
	if id != nil {
		next.LastEnd, next.Ended = *id, ended
	}
	if st.ok && id == nil && sameSession(next.Session, st.published.Session) && next.OutOfService == st.published.OutOfService {
		return
	}
	v, err := EncodeTermState(next)
	if err == nil {
		_, err = s.Client.Put(ctx, StateKey(s.Terminal), string(v))
	}
	if err != nil {
		s.log().Warn("fleet sessions: the terminal's state was not published", "err", err)
		return
	}
	st.published, st.ok = next, true
}

func sameSession(a, b *TermSession) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.UserID, b.UserID) && a.Started.Equal(b.Started) && a.EndsAt.Equal(b.EndsAt)
}
