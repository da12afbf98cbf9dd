package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/policy"
)

// currentPolicy returns the stored policy's canonical text, or the
// built-in default's with version 0.
func (c *call) currentPolicy() (PolicyShown, error) {
	sp, err := c.s.opts.Store.Policy()
	if kiosk.KindOf(err) == kiosk.KindNotFound {
		return PolicyShown{Text: string(config.RenderPolicy(policy.Default()))}, nil
	}
	if err != nil {
		return PolicyShown{}, err
	}
	// Decoding checks the stored text still reads as a policy.
	if _, err := config.DecodeStoredPolicy(sp.Version, sp.Schema, sp.Data); err != nil {
		return PolicyShown{}, err
	}
	return PolicyShown{Version: sp.Version, ChangedAt: sp.ChangedAt, ChangedBy: sp.ChangedBy, Text: string(sp.Data)}, nil
}

func (c *call) policyShow() (any, error) {
	if err := c.decode(&struct{}{}); err != nil {
		return nil, err
	}
	return c.currentPolicy()
}

func (c *call) policyApply() (any, error) {
	var a PolicyApplyArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if a.Name == "" {
		a.Name = "policy.toml"
	}
	// Anchors were inlined by the client: the appliance reads no files
	// an administrator names.
	p, err := config.ParsePolicy(a.Name, []byte(a.Text), nil)
	if err != nil {
		return nil, err
	}
	c.s.applyMu.Lock()
	defer c.s.applyMu.Unlock()
	cur, err := c.currentPolicy()
	if err != nil {
		return nil, err
	}
	if a.Base != 0 && a.Base != cur.Version {
		return nil, kiosk.Errorf(kiosk.KindConflict, "apply policy", "the policy is at version %d, not %d: review the change again (passkioskctl policy show)", cur.Version, a.Base)
	}
	text := config.RenderPolicy(p)
	res := PolicyApplied{Previous: cur.Version, Version: cur.Version, Diff: config.Diff([]byte(cur.Text), text)}
	res.Changed = res.Diff != ""
	if !res.Changed || a.DryRun {
		return res, nil
	}
	v, err := c.s.opts.Store.PutPolicy(config.PolicySchema, text, cur.Version, c.peer.change(map[string]string{"comment": "applied from " + a.Name}))
	if err != nil {
		return nil, err
	}
	res.Version = v
	p.Version = int(v)
	if c.s.opts.OnPolicy != nil {
		c.s.opts.OnPolicy(p)
	}
	return res, nil
}

// MaxTail bounds audit tail.
const MaxTail = 10000

func (c *call) auditTail() (any, error) {
	var a AuditArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if a.N < 0 {
		return nil, invalid("the number of entries must be positive, got %d", a.N)
	}
	if a.N == 0 {
		a.N = 20
	}
	if a.N > MaxTail {
		return nil, invalid("at most %d entries at once; use audit export for more", MaxTail)
	}
	head, err := c.s.opts.Store.AuditHead()
	if err != nil {
		return nil, err
	}
	from := uint64(1)
	if head.Seq > uint64(a.N) {
		from = head.Seq - uint64(a.N) + 1
	}
	return list(c.s.opts.Store.Events(from, a.N))
}

func (c *call) auditFollow() (any, error) {
	var a AuditArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	next := a.From
	if next == 0 {
		head, err := c.s.opts.Store.AuditHead()
		if err != nil {
			return nil, err
		}
		next = head.Seq + 1
	}
	select {
	case c.s.follows <- struct{}{}:
		defer func() { <-c.s.follows }()
	default:
		return nil, kiosk.Errorf(kiosk.KindDeviceBusy, "audit follow", "%d clients are following the audit log already; stop one", cap(c.s.follows))
	}
	c.release()
	ctx, stop := c.clientGone()
	defer stop()
	// A store that signals its writes wakes the follow at once; the
	// ticker is then only a safety net.
	written, _ := c.s.opts.Store.(WriteSignal)
	poll := c.s.opts.FollowPoll
	if written != nil {
		poll = max(poll, 5*time.Second)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	// The first part says the stream is open and where it starts, so a
	// client knows entries after that point will reach it.
	if !c.w.more(AuditArgs{From: next}) {
		return streamed, nil
	}
	for {
		var wake <-chan struct{}
		if written != nil {
			wake = written.Written() // before reading, so no write goes unnoticed
		}
		evs, err := c.s.opts.Store.Events(next, 256)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if !c.w.more(e) {
				return streamed, nil
			}
			next = e.Seq + 1
		}
		select {
		case <-ctx.Done():
			c.w.ok(nil)
			return streamed, nil
		case <-tick.C:
		case <-wake:
		}
	}
}

// lineSender streams JSON lines as response parts.
type lineSender struct {
	w   *responder
	buf bytes.Buffer
	err error
}

func (l *lineSender) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	l.buf.Write(p)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := append([]byte(nil), l.buf.Next(i + 1)[:i]...)
		if !json.Valid(line) {
			l.err = fmt.Errorf("export produced a line that is not JSON")
			return 0, l.err
		}
		if !l.w.more(json.RawMessage(line)) {
			l.err = fmt.Errorf("client gone")
			return 0, l.err
		}
	}
}

func (c *call) auditExport() (any, error) {
	var a AuditArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	ls := &lineSender{w: c.w}
	n, err := c.s.opts.Store.ExportAudit(ls, a.From)
	if ls.err != nil && c.w.dead {
		return streamed, nil
	}
	if err != nil {
		return nil, err
	}
	c.w.ok(map[string]int{"exported": n})
	return streamed, nil
}

func (c *call) auditVerify() (any, error) {
	if err := c.decode(&struct{}{}); err != nil {
		return nil, err
	}
	chain, err := c.s.opts.Store.VerifyAudit()
	if _, down := c.s.opts.Store.(unavailable); kiosk.KindOf(err) == kiosk.KindStoreCorrupt && !down {
		return nil, kiosk.Errorf(kiosk.KindStoreCorrupt, "audit verify",
			"the audit log does not verify: %s; it was damaged or edited outside the appliance: keep the database file as it is for investigation", errorOf(err).Message)
	}
	return chain, err
}
