package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
)

// fleetAdmin grants, lists and takes away administrators' roles in the
// cluster (fleetapi.Admin). It needs the cluster's root credentials, as
// join does: the fleet service's admin API cannot change roles, so no
// administrator raises their own.
func (e *env) fleetAdmin(ff *fleetFlags, fs *flag.FlagSet, args []string) error {
	const usage = "fleet admin add NAME --role admin|auditor | fleet admin list | fleet admin remove NAME   (with --endpoints, --admin-cert, --admin-key, --ca)"
	role := fs.String("role", "", "admin (read and change) or auditor (read only)")
	pos, err := e.parse(fs, args, 1, 2, usage)
	if err != nil {
		return err
	}
	switch {
	case pos[0] == "add" && len(pos) == 2:
		r, err := fleetapi.ParseRole(*role)
		if err != nil {
			return usagef("fleet admin add %s needs --role admin (reads and changes) or --role auditor (reads only)", pos[1])
		}
		by, err := certName(ff.cert)
		if err != nil {
			return err
		}
		return ff.with(e.ctx, func(ctx context.Context, cl *clientv3.Client) error { return e.adminAdd(ctx, cl, pos[1], r, by) })
	case pos[0] == "list" && len(pos) == 1:
		return ff.with(e.ctx, e.adminList)
	case pos[0] == "remove" && len(pos) == 2:
		return ff.with(e.ctx, func(ctx context.Context, cl *clientv3.Client) error {
			r, err := cl.Delete(ctx, fleetapi.AdminKey(pos[1]))
			if err != nil {
				return err
			}
			if r.Deleted == 0 {
				return notFoundf("%q has no role in the fleet", pos[1])
			}
			fmt.Fprintf(e.stdout, "%s has no role in the fleet any more; the fleet service refuses their next command\n", pos[1])
			return nil
		})
	}
	return usagef("usage: passkioskctl %s", usage)
}

// adminAdd writes name's role record. A terminal's name is refused: the
// certificate that names a terminal must not also be an administrator.
func (e *env) adminAdd(ctx context.Context, cl *clientv3.Client, name string, r fleetapi.Role, by string) error {
	u, err := cl.UserGet(ctx, name)
	if err != nil && !errors.Is(err, rpctypes.ErrUserNotFound) {
		return fmt.Errorf("user %s: %w", name, err)
	}
	if err == nil && slices.Contains(u.Roles, terminalRole(name)) {
		return conflictf("%q is a terminal of the fleet (etcd role %s): an administrator needs a certificate of their own, with another name", name, terminalRole(name))
	}
	v, err := fleetapi.EncodeAdmin(fleetapi.Admin{Name: name, Role: r, Added: time.Now().UTC(), AddedBy: by})
	if err != nil {
		return err
	}
	if _, err := cl.Put(ctx, fleetapi.AdminKey(name), string(v)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is now %s of the fleet (the common name of their client certificate must be %q).\n", name, map[fleetapi.Role]string{fleetapi.RoleAdmin: "an admin", fleetapi.RoleAuditor: "an auditor"}[r], name)
	return nil
}

func (e *env) adminList(ctx context.Context, cl *clientv3.Client) error {
	r, err := cl.Get(ctx, fleetapi.AdminsPrefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	var as []fleetapi.Admin
	for _, kv := range r.Kvs {
		a, err := fleetapi.DecodeAdmin(kv.Value)
		if err != nil {
			return fmt.Errorf("%s: %v", kv.Key, err)
		}
		as = append(as, a)
	}
	return e.emit(as, func() {
		rows := make([][]string, len(as))
		for i, a := range as {
			rows[i] = []string{a.Name, string(a.Role), when(a.Added, "-"), orDash(a.AddedBy)}
		}
		e.table([]string{"NAME", "ROLE", "ADDED", "BY"}, rows)
	})
}

func notFoundf(format string, args ...any) error {
	return &admin.Error{Code: admin.ExitNotFound, Kind: kiosk.KindNotFound.String(), Message: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) error {
	return &admin.Error{Code: admin.ExitConflict, Kind: kiosk.KindConflict.String(), Message: fmt.Sprintf(format, args...)}
}
