package fleetadmin

import (
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/auditfile"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet/collect"
)

// The audit trail of the fleet is the collector's archive (package
// collect): every terminal's verified chain, one file per terminal.

func (c *call) collector() (*collect.Collector, error) {
	if c.s.o.Archive == nil {
		return nil, kiosk.Errorf(kiosk.KindNotFound, "fleet audit", "this fleet service keeps no audit archive")
	}
	return c.s.o.Archive, nil
}

// query turns the wire's query into the collector's, checking the event
// names.
func query(q fleetapi.AuditQuery) (collect.Query, error) {
	cq := collect.Query{Person: q.Person, Terminal: q.Terminal, From: q.Since, To: q.Until, Limit: math.MaxInt32}
	for _, name := range q.Events {
		ev := kiosk.LegacyEvent(name)
		if ev == kiosk.EventUnknown {
			return cq, kiosk.Errorf(kiosk.KindMalformed, "fleet audit", "no audit event is called %q (the audit log's names: sign-in, sign-in-failed, session-opened, …)", name)
		}
		cq.Types = append(cq.Types, ev)
	}
	return cq, nil
}

func (c *call) search(b []byte) (fleetapi.AuditQuery, []fleetapi.AuditHit, error) {
	var q fleetapi.AuditQuery
	if err := decodeArgs(b, &q); err != nil {
		return q, nil, err
	}
	cq, err := query(q)
	if err != nil {
		return q, nil, err
	}
	col, err := c.collector()
	if err != nil {
		return q, nil, err
	}
	hits, err := col.Search(cq)
	if err != nil {
		return q, nil, err
	}
	out := make([]fleetapi.AuditHit, len(hits))
	for i, h := range hits {
		out[i] = fleetapi.AuditHit{FleetName: h.Terminal, Entry: h.Entry}
	}
	return q, out, nil
}

func (c *call) auditTail(b []byte) (any, error) {
	q, hits, err := c.search(b)
	if err != nil {
		return nil, err
	}
	n := cmpOrInt(q.N, 20)
	if n < 1 || n > admin.MaxTail {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "fleet audit tail", "n must be 1..%d, got %d", admin.MaxTail, n)
	}
	return hits[max(0, len(hits)-n):], nil
}

func cmpOrInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// auditExport streams the query's entries, oldest first, then the count.
func (c *call) auditExport(b []byte, send sendFunc) error {
	_, hits, err := c.search(b)
	if err != nil {
		return err
	}
	for _, h := range hits {
		if err := send(true, h); err != nil {
			return err
		}
	}
	return send(false, map[string]int{"exported": len(hits)})
}

// auditVerify checks every terminal's archive file as it stands on disk
// (auditfile.Verify, as for an export), and says which terminals the
// collector stopped archiving.
func (c *call) auditVerify([]byte) (any, error) {
	col, err := c.collector()
	if err != nil {
		return nil, err
	}
	st := col.Status()
	out := fleetapi.AuditVerified{Terminals: []fleetapi.ArchiveCheck{}}
	for _, name := range slices.Sorted(maps.Keys(st)) {
		ac := checkArchive(filepath.Join(c.s.o.ArchiveDir, name+".jsonl"))
		ac.Terminal = name
		if s := st[name]; s.Stopped != nil {
			ac.Stopped = s.Stopped.Message
		} else if ac.Problem == "" && ac.Last != s.Last {
			ac.Problem = "the file ends at entry " + itoa(ac.Last) + ", the collector archived up to " + itoa(s.Last)
		}
		if ac.Problem != "" || ac.Stopped != "" {
			out.Broken++
		}
		out.Terminals = append(out.Terminals, ac)
	}
	return out, nil
}

func checkArchive(path string) fleetapi.ArchiveCheck {
	f, err := os.Open(path)
	if err != nil {
		return fleetapi.ArchiveCheck{Problem: err.Error()}
	}
	defer f.Close()
	ch, err := auditfile.Verify(f)
	ac := fleetapi.ArchiveCheck{Entries: ch.Entries, First: ch.First, Last: ch.Last, LastHash: ch.LastHash, StartsChain: ch.StartsChain}
	if err != nil {
		ac.Problem = err.Error()
	}
	return ac
}

// followKeepAlive is how often a quiet follow sends an empty part, so
// both ends notice a connection that is gone; followMax bounds one
// follow (passkioskctl starts another when asked to go on).
const (
	followKeepAlive = 15 * time.Second
	followMax       = time.Hour
)

// auditFollow streams entries as the collector archives them.
func (c *call) auditFollow(b []byte, send sendFunc) error {
	var q fleetapi.AuditQuery
	if err := decodeArgs(b, &q); err != nil {
		return err
	}
	cq, err := query(q)
	if err != nil {
		return err
	}
	if c.s.o.Feed == nil {
		return kiosk.Errorf(kiosk.KindNotFound, "fleet audit follow", "this fleet service keeps no audit archive")
	}
	sub, stop := c.s.o.Feed.subscribe()
	defer stop()
	if err := send(true, fleetapi.FollowPart{}); err != nil {
		return err
	}
	tick := time.NewTicker(followKeepAlive)
	defer tick.Stop()
	end := time.After(followMax)
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-end:
			return send(false, fleetapi.FollowPart{})
		case <-tick.C:
			if err := send(true, fleetapi.FollowPart{}); err != nil {
				return err
			}
		case h, ok := <-sub:
			if !ok {
				return errors.New("the follow fell behind the archive and stopped; see what it missed with audit tail --since")
			}
			if matches(cq, h) {
				if err := send(true, fleetapi.FollowPart{Hit: &h}); err != nil {
					return err
				}
			}
		}
	}
}

// matches says whether h is one of q's entries (collect.Search's rules).
func matches(q collect.Query, h fleetapi.AuditHit) bool {
	x := h.Entry
	if q.Terminal != "" && h.FleetName != q.Terminal || q.Person != "" && x.User != q.Person && x.UserID != q.Person {
		return false
	}
	if len(q.Types) > 0 && !slices.ContainsFunc(q.Types, func(t kiosk.Event) bool { return t.String() == x.Type }) {
		return false
	}
	at, err := time.Parse(time.RFC3339Nano, x.Time)
	return err == nil && (q.From.IsZero() || !at.Before(q.From)) && (q.To.IsZero() || at.Before(q.To))
}
