package fleetadmin

import (
	"bytes"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/store/fleet"
)

func (c *call) policyShow([]byte) (any, error) {
	p, err := c.s.o.Dir.Policy(c.ctx)
	if err != nil {
		return nil, err
	}
	return admin.PolicyShown{Version: p.Version, ChangedAt: p.ChangedAt, ChangedBy: p.ChangedBy, Text: string(p.Data)}, nil
}

// policyApply checks the policy as the terminals will read it (their
// build's parser, in canonical form) and stores it as the next version
// if the version the administrator reviewed (Base, or the current one
// when 0) is still current.
func (c *call) policyApply(b []byte) (any, error) {
	var a admin.PolicyApplyArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	p, err := config.ParsePolicy(cmpOr(a.Name, "policy"), []byte(a.Text), nil)
	if err != nil {
		return nil, err
	}
	data := config.RenderPolicy(p)
	cur, err := c.s.o.Dir.Policy(c.ctx)
	if err != nil {
		return nil, err
	}
	if a.Base != 0 && a.Base != cur.Version {
		return nil, kiosk.Errorf(kiosk.KindConflict, "apply fleet policy", "the fleet's policy is at version %d, you reviewed %d: look again (policy show) and apply with --base %d", cur.Version, a.Base, cur.Version)
	}
	r := admin.PolicyApplied{Previous: cur.Version, Version: cur.Version, Diff: config.Diff(cur.Data, data), Changed: !bytes.Equal(cur.Data, data)}
	if !r.Changed || a.DryRun {
		return r, nil
	}
	if r.Version, err = c.s.o.Dir.PutPolicy(c.ctx, config.PolicySchema, data, cur.Version, c.who); err != nil {
		return nil, err
	}
	c.changed(fleet.PolicyVersionKey(r.Version), 0, "version", r.Version, "previous", r.Previous)
	return r, nil
}
