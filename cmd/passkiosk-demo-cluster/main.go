// Command passkiosk-demo-cluster is the fleet's side of `make demo-fleet`:
// a directory for two demo terminals on this machine, and IT's console.
//
//	passkiosk-demo-cluster --ctl PASSKIOSKCTL [--dir DIR] [--run PASSKIOSK]
//
// It starts three embedded etcd members on 127.0.0.1 with throwaway
// certificates (store/fleet/fleettest, the fleet tests' cluster), turns on
// etcd's authentication, joins two terminals with `passkioskctl fleet
// join` as IT would, serves the fleet service (store/fleet.Handler) over
// HTTPS with client certificates, and puts two people and their
// enrollment codes in the directory. Each terminal's configuration is
// DIR/terminals/<name>.toml: its name and the [fleet] section fleet join
// printed, with the service's address. With --run it starts
// `PASSKIOSK --demo-fleet DIR` (both terminals and their windows) and
// stops when that does; without, when its input ends.
//
// Lines typed on its input are IT's console: revoke NAME, disable NAME,
// enable NAME, code NAME, and offline and online, which stop and start
// every member as a network cut would. Everything it started (members, service, the
// appliance) stops with it, and a DIR it made itself is removed.
//
// It is a demo program: it links the etcd server module (kiosk's import
// test allows it here) and no terminal runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "passkiosk-demo-cluster:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	ctl := flag.String("ctl", "passkioskctl", "the passkioskctl program that joins the terminals (fleet join)")
	dirFlag := flag.String("dir", "", "where the certificates, the members' data and the terminals' configuration go (default: a new temporary folder, removed at the end)")
	prog := flag.String("run", "", "the passkiosk program (built with the demo) to start as PROGRAM --demo-fleet DIR")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: see -help", flag.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dir, removeDir, err := demoDir(*dirFlag)
	if err != nil {
		return err
	}
	defer removeDir()
	tb := &programTB{dir: dir}
	defer tb.cleanup()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = errors.New(f.msg)
		}
	}()
	f, err := startFleet(ctx, tb, dir, *ctl)
	if err != nil {
		return err
	}
	defer f.close()
	f.introduce(os.Stdout)
	return f.serve(ctx, *prog, os.Stdin, os.Stdout)
}

// searchable is the demo folder's mode: the session account must pass
// through it to the terminals' session workspaces, as through
// /var/lib/passkiosk; it lists nothing to others, and the certificates'
// keys inside are the owner's alone.
const searchable = 0o711

// demoDir is the folder named, made if missing and refused unless empty
// (the members' data of another run must not be mixed in), or a new
// temporary one that the returned function removes.
func demoDir(named string) (string, func(), error) {
	if named != "" {
		if err := os.MkdirAll(named, searchable); err != nil {
			return "", nil, err
		}
		if entries, err := os.ReadDir(named); err != nil || len(entries) > 0 {
			return "", nil, fmt.Errorf("--dir %s is not empty (%v): name an empty or new folder", named, err)
		}
		return named, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "passkiosk-demo-fleet-")
	if err == nil {
		err = os.Chmod(dir, searchable)
	}
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
