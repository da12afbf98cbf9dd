package collect

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/auditfile"
)

// DefaultLimit is how many hits Search returns when the query names no
// limit.
const DefaultLimit = 1000

// Query selects archived entries; zero fields select everything.
type Query struct {
	Person   string        // sign-in name or user ID (kiosk.ReadableID), exactly
	Terminal string        // fleet name
	From, To time.Time     // entry time in [From, To)
	Types    []kiosk.Event // any of these
	Limit    int           // the oldest Limit hits; 0 means DefaultLimit
}

// Hit is one archived entry.
type Hit struct {
	Terminal string
	Entry    auditfile.Entry
	at       time.Time
}

// Search reads the archive for q's entries, oldest first (by entry
// time, then terminal and sequence number). It reads the files as they
// stand, including entries archived while it runs up to the moment each
// file is opened.
func (c *Collector) Search(q Query) ([]Hit, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	types := map[string]bool{}
	for _, t := range q.Types {
		types[t.String()] = true
	}
	var hits []Hit
	for _, t := range c.snapshot() {
		if t.arc == nil || (q.Terminal != "" && t.name != q.Terminal) {
			continue
		}
		err := t.arc.scan(func(line []byte) error {
			if q.Person != "" && !bytes.Contains(line, []byte(q.Person)) {
				return nil
			}
			var x auditfile.Entry
			if err := json.Unmarshal(line, &x); err != nil {
				return err
			}
			if q.Person != "" && x.User != q.Person && x.UserID != q.Person {
				return nil
			}
			if len(types) > 0 && !types[x.Type] {
				return nil
			}
			at, err := time.Parse(time.RFC3339Nano, x.Time)
			if err != nil || (!q.From.IsZero() && at.Before(q.From)) || (!q.To.IsZero() && !at.Before(q.To)) {
				return nil
			}
			hits = append(hits, Hit{Terminal: t.name, Entry: x, at: at})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.Terminal, b.Terminal), cmp.Compare(a.Entry.Seq, b.Entry.Seq))
	})
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	return hits, nil
}
