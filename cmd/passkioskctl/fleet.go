package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The fleet's key layout is drawn in store/fleet/doc.go; passkioskctl
// may not import the store (it never opens the database), so the two
// prefixes a terminal's role names are repeated here, and fleet_test.go
// checks they agree with store/fleet's.
const (
	fleetPrefix = "/passkiosk/v1/"
	fleetTerm   = fleetPrefix + "term/"
)

// terminalRole is the etcd role of one terminal.
func terminalRole(name string) string { return "passkiosk-terminal-" + name }

// provision creates terminal name's etcd user (no password: it signs in
// with its client certificate, whose common name is name) and its role:
// read the whole fleet prefix, write only its own term/<name>/ prefix.
// It is done once, at join: each permission costs a raft round.
// Provisioning a terminal that exists already refreshes its role.
func provision(ctx context.Context, cl *clientv3.Client, name string) error {
	role := terminalRole(name)
	if _, err := cl.RoleAdd(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("role %s: %w", role, err)
	}
	own := fleetTerm + name + "/"
	perms := []struct {
		key string
		typ clientv3.PermissionType
	}{
		{fleetPrefix, clientv3.PermissionType(authpb.READ)},
		{own, clientv3.PermissionType(authpb.READWRITE)},
	}
	for _, p := range perms {
		if _, err := cl.RoleGrantPermission(ctx, role, p.key, clientv3.GetPrefixRangeEnd(p.key), p.typ); err != nil {
			return fmt.Errorf("role %s: grant %s: %w", role, p.key, err)
		}
	}
	if _, err := cl.UserAddWithOptions(ctx, name, "", &clientv3.UserAddOptions{NoPassword: true}); err != nil && !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return fmt.Errorf("user %s: %w", name, err)
	}
	if _, err := cl.UserGrantRole(ctx, name, role); err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	return nil
}

// decommission removes terminal name's user and role. An open watch of
// that terminal survives its user's deletion (etcd checks permissions
// when a watch starts): its certificate must be revoked in the members'
// CRL, which they read at each handshake, and the members restarted one
// at a time to close its open connections (fleet_test.go shows both);
// neither can be done from here.
func decommission(ctx context.Context, cl *clientv3.Client, name string) error {
	if _, err := cl.UserDelete(ctx, name); err != nil && !errors.Is(err, rpctypes.ErrUserNotFound) {
		return fmt.Errorf("user %s: %w", name, err)
	}
	if _, err := cl.RoleDelete(ctx, terminalRole(name)); err != nil && !errors.Is(err, rpctypes.ErrRoleNotFound) {
		return fmt.Errorf("role %s: %w", terminalRole(name), err)
	}
	_, err := cl.Delete(ctx, fleetTerm+name+"/", clientv3.WithPrefix())
	return err
}

// fleetFlags are what every fleet command needs to reach the cluster as
// an administrator.
type fleetFlags struct {
	endpoints, cert, key, ca string
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoints, "endpoints", "", "every cluster member, comma-separated https://host:port")
	fs.StringVar(&f.cert, "admin-cert", "", "the fleet administrator's client certificate (PEM)")
	fs.StringVar(&f.key, "admin-key", "", "its private key (PEM)")
	fs.StringVar(&f.ca, "ca", "", "the certificates that sign the members' (PEM)")
}

// with runs fn with a client of the cluster, for at most 30 s.
func (f *fleetFlags) with(ctx context.Context, fn func(context.Context, *clientv3.Client) error) error {
	cl, err := f.dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return fn(ctx, cl)
}

func (f *fleetFlags) dial() (*clientv3.Client, error) {
	if f.endpoints == "" || f.cert == "" || f.key == "" || f.ca == "" {
		return nil, usagef("name the cluster: --endpoints, --admin-cert, --admin-key and --ca")
	}
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, err
	}
	pemCA, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, fmt.Errorf("%s holds no PEM certificate", f.ca)
	}
	return clientv3.New(clientv3.Config{Endpoints: strings.Split(f.endpoints, ","), DialTimeout: 5 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}})
}

// certName is the common name of the first certificate in a PEM file.
func certName(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return c.Subject.CommonName, nil
}

// fleetCmd runs the fleet commands: join, leave and admin. They talk to
// the cluster as its administrator, not to the appliance.
func (e *env) fleetCmd(verb string, args []string) error {
	var ff fleetFlags
	fs := flag.NewFlagSet("fleet "+verb, flag.ContinueOnError)
	ff.register(fs)
	switch verb {
	case "key":
		return e.fleetKey(args)
	case "join":
		var cert, key string
		fs.StringVar(&cert, "cert", "/etc/passkiosk/fleet/terminal.crt", "this terminal's client certificate; its common name is its fleet name")
		fs.StringVar(&key, "key", "/etc/passkiosk/fleet/terminal.key", "its private key (kept root-only)")
		if _, err := e.parse(fs, args, 0, 0, "fleet join --endpoints URLS --admin-cert F --admin-key F --ca F [--cert F --key F]"); err != nil {
			return err
		}
		if fi, err := os.Stat(key); err != nil {
			return err
		} else if fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s is readable by others (mode %o): chmod 600 it first", key, fi.Mode().Perm())
		}
		name, err := certName(cert)
		if err != nil {
			return err
		}
		if err := ff.with(e.ctx, func(ctx context.Context, cl *clientv3.Client) error { return provision(ctx, cl, name) }); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "terminal %q joined the fleet: etcd user %s, role %s (reads %s, writes %s%s/).\n",
			name, name, terminalRole(name), fleetPrefix, fleetTerm, name)
		fmt.Fprintf(e.stdout, "Add to /etc/passkiosk/passkiosk.toml and restart the appliance:\n\n[fleet]\nname = %q\nendpoints = [%s]\ncertificate = %q\nkey = %q\nca = %q\n",
			name, quoteList(strings.Split(ff.endpoints, ",")), cert, key, ff.ca)
		return nil
	case "leave":
		pos, err := e.parse(fs, args, 1, 1, "fleet leave NAME --endpoints URLS --admin-cert F --admin-key F --ca F")
		if err != nil {
			return err
		}
		if err := ff.with(e.ctx, func(ctx context.Context, cl *clientv3.Client) error { return decommission(ctx, cl, pos[0]) }); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "terminal %q left the fleet: its etcd user, role and records are gone.\n"+
			"etcd keeps an open watch of a deleted user alive: add its certificate to the members' CRL\n"+
			"(--client-crl-file, read at every handshake) and restart the members one at a time, which\n"+
			"closes the connections it has open.\n", pos[0])
		return nil
	case "admin":
		return e.fleetAdmin(&ff, fs, args)
	}
	return usagef("usage: passkioskctl fleet key|join|leave|admin …")
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", strings.TrimSpace(x))
	}
	return strings.Join(q, ", ")
}
