package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/fleetapi"
)

// DefaultSocket is where the appliance listens unless configured
// otherwise.
const DefaultSocket = "/run/passkiosk/admin.sock"

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// env is one run of the command: its streams, global flags and client.
type env struct {
	stdout, stderr io.Writer
	json           bool
	socket         string
	timeout        time.Duration
	// fleet names the fleet service's admin API: with it, commands go
	// to the fleet (fleetadmin.go) instead of this machine's appliance.
	fleet  fleetTarget
	client caller
	ctx    context.Context
	// auditHeader says the audit table's header was printed;
	// exportHeader that an export began with its header line.
	auditHeader, exportHeader bool
}

// usageError is a wrong command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, ctx: ctx, socket: os.Getenv("PASSKIOSK_SOCKET"), timeout: 30 * time.Second, fleet: fleetFromEnv()}
	if e.socket == "" {
		e.socket = findSocket()
	}
	err := e.dispatch(args)
	if err == nil {
		return admin.ExitOK
	}
	return e.report(err)
}

// configuredSocket is the socket the appliance's configuration names, or
// DefaultSocket when there is no readable configuration.
func configuredSocket() string {
	if c, err := config.Load(config.DefaultPath); err == nil {
		return c.Admin.Socket
	}
	return DefaultSocket
}

// globals registers the flags every command takes.
func (e *env) globals(fs *flag.FlagSet) {
	// Defaults are the current values, so flags given before the command
	// stay set.
	fs.BoolVar(&e.json, "json", e.json, "print JSON for scripts")
	fs.StringVar(&e.socket, "socket", e.socket, "the appliance's admin socket (or $PASSKIOSK_SOCKET)")
	fs.DurationVar(&e.timeout, "timeout", e.timeout, "how long to wait for the appliance")
	e.fleet.register(fs)
}

// parse parses flags placed anywhere among the arguments and returns the
// positional ones, checking their count.
func (e *env) parse(fs *flag.FlagSet, args []string, minPos, maxPos int, usage string) ([]string, error) {
	e.globals(fs)
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%v\nusage: passkioskctl %s", err, usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		return nil, usagef("usage: passkioskctl %s", usage)
	}
	if e.fleet.url != "" {
		c, err := e.fleet.client(e.timeout)
		if err != nil {
			return nil, err
		}
		e.client = c
		return pos, nil
	}
	e.client = &admin.Client{Socket: e.socket, Timeout: e.timeout}
	return pos, nil
}

func (e *env) call(cmd string, args, out any) error {
	return e.client.Call(e.ctx, cmd, args, out)
}

// report prints err and returns the exit code it means.
func (e *env) report(err error) int {
	var (
		ue   usageError
		we   *admin.Error
		unr  *admin.Unreachable
		funr *fleetapi.Unreachable
		code = admin.ExitFailed
		msg  = err.Error()
		list []string
	)
	switch {
	case errors.As(err, &ue):
		code = admin.ExitUsage
	case errors.As(err, &we):
		code, msg, list = we.Code, we.Message, we.Problems
	case errors.As(err, &unr):
		code = admin.ExitUnreachable
		msg += "; " + unreachableHint
	case errors.As(err, &funr):
		code = admin.ExitUnreachable
		msg += "; " + fleetUnreachableHint
	case config.ProblemsOf(err) != nil:
		code, msg = admin.ExitInvalid, "the file has errors:"
		for _, p := range config.ProblemsOf(err) {
			list = append(list, p.String())
		}
	}
	if len(list) > 0 && msg != "the file has errors:" {
		msg = "the policy has errors:"
	}
	if e.json {
		out := map[string]any{"error": msg, "code": code}
		if len(list) > 0 {
			out["problems"] = list
		}
		b, _ := json.Marshal(out)
		fmt.Fprintln(e.stderr, string(b))
	} else {
		fmt.Fprintln(e.stderr, "passkioskctl: "+msg)
		for _, p := range list {
			fmt.Fprintln(e.stderr, "  "+p)
		}
	}
	return code
}

// action is one verb of a command: it parses its own flags and arguments.
type action struct {
	verbs string // the verb and its other names, space-separated
	run   func(e *env, fs *flag.FlagSet, args []string) error
}

// actions are the verbs of the commands that pick runs; a command's first
// action is the one run without a verb.
var actions = map[string][]action{
	"users": {
		{"list ls", (*env).usersList},
		{"show", (*env).usersShow},
		{"add", (*env).usersAdd},
		{"edit", (*env).usersEdit},
		{"disable", func(e *env, fs *flag.FlagSet, args []string) error { return e.usersChange(fs, args, "disable") }},
		{"enable", func(e *env, fs *flag.FlagSet, args []string) error { return e.usersChange(fs, args, "enable") }},
		{"remove", func(e *env, fs *flag.FlagSet, args []string) error { return e.usersChange(fs, args, "remove") }},
		{"unsuspend", (*env).usersUnsuspend},
	},
	"policy": {
		{"show", (*env).policyShow},
		{"validate", (*env).policyValidate},
		{"apply", (*env).policyApply},
	},
	"audit": {
		{"tail", (*env).auditTail},
		{"follow", (*env).auditFollow},
		{"export", (*env).auditExport},
		{"verify", (*env).auditVerify},
	},
}

// pick runs the action of command noun that verb names.
func (e *env) pick(noun, verb string, args []string) error {
	var names []string
	for i, a := range actions[noun] {
		if verb == "" && i == 0 || slices.Contains(strings.Fields(a.verbs), verb) {
			return a.run(e, flag.NewFlagSet(noun+" "+verb, flag.ContinueOnError), args)
		}
		names = append(names, strings.Fields(a.verbs)[0])
	}
	return usagef("%s: unknown action %q (%s)", noun, verb, strings.Join(names, ", "))
}

func (e *env) dispatch(args []string) error {
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "--version" {
		gs := flag.NewFlagSet("passkioskctl", flag.ContinueOnError)
		gs.SetOutput(io.Discard)
		e.globals(gs)
		if err := gs.Parse(args); err != nil {
			return usagef("%v", err)
		}
		args = gs.Args()
	}
	if len(args) == 0 {
		return usagef("%s", strings.TrimSpace(helpText))
	}
	noun, rest := args[0], args[1:]
	verb := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		verb, rest = rest[0], rest[1:]
	}
	if ok, err := e.dispatchFleet(noun, verb, rest); ok {
		return err
	}
	switch noun {
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, helpText)
		return nil
	case "version", "--version":
		fmt.Fprintln(e.stdout, "passkioskctl", version)
		return nil
	case "status":
		if verb != "" {
			rest = append([]string{verb}, rest...)
		}
		return e.status(rest)
	case "users", "user":
		return e.pick("users", verb, rest)
	case "credentials", "credential", "creds":
		return e.credentials(verb, rest)
	case "codes", "code":
		return e.codes(verb, rest)
	case "policy":
		return e.pick("policy", verb, rest)
	case "sessions", "session":
		return e.sessions(verb, rest)
	case "audit":
		return e.pick("audit", verb, rest)
	case "tpm":
		return e.tpm(verb, rest)
	case "fleet":
		return e.fleetCmd(verb, rest)
	}
	return usagef("unknown command %q; run passkioskctl help", noun)
}

const helpText = `passkioskctl administers the passkiosk appliance on this machine.

usage: passkioskctl COMMAND [flags]

  status                                  health, state, TPM, keys plugged, version
  users list
  users show USER
  users add NAME [--display-name TEXT] [--groups a,b] [--force]
                                          groups must be named by the policy, or --force
  users edit USER [--display-name TEXT] [--groups a,b] [--enable|--disable] [--force]
                                          passkeys are kept
  users disable USER | users enable USER
  users remove USER [--yes]               asks first on a terminal
  users unsuspend USER                    lift a suspension after too many wrong TPM PINs
  credentials list [USER]                 kind, AAGUID, last used
  credentials revoke ID [--yes]           ID or its first 6+ hex digits
  codes issue USER [--ttl 24h] [--purpose enroll|recovery]
                                          recovery: once used, revokes the person's other passkeys
  codes list
  codes cancel ID
  policy show
  policy validate FILE                    check a policy file here, without the appliance
  policy apply FILE [--dry-run] [--base VERSION] [--yes]
                                          shows the diff and asks first on a terminal
  sessions list [--open]
  sessions end                            end the session in progress (it is wiped)
  audit tail [-n 20]                      a table; --json: JSON lines
  audit follow [--from SEQ] [--count N] [--for DURATION]
  audit export [--from SEQ] [-o FILE]     a header, then JSON lines with their chain hashes
  audit verify                            check the audit log's hash chain on the appliance
  audit verify FILE                       check an exported file here, without the appliance
  tpm lockout                             the TPM's wrong-PIN counter, maximum, recovery, time left
  tpm lockout reset                       end a TPM lockout now (audited)
  fleet key NAME [--replace] [--out FILE] make this terminal's fleet key in its TPM; prints the
                                          certificate request for the fleet's CA
  fleet join --endpoints URLS --admin-cert F --admin-key F --ca F [--cert F --key F]
                                          make this terminal's etcd user and role (once)
  fleet leave NAME --endpoints … (as join) remove a terminal's user, role and records
  fleet admin add NAME --role admin|auditor --endpoints … (as join)
                                          let the holder of a client certificate named NAME use --fleet:
                                          admin reads and changes, auditor only reads
  fleet admin list | fleet admin remove NAME --endpoints … (as join)
  version

on the fleet: add --fleet https://FLEETD:PORT --fleet-cert F --fleet-key F --fleet-ca F
(or set PASSKIOSK_FLEET, PASSKIOSK_FLEET_CERT, PASSKIOSK_FLEET_KEY, PASSKIOSK_FLEET_CA)
and the command runs on the fleet service (passkiosk-fleetd) with your own certificate:
  users list | users show USER | users add NAME [--display-name TEXT] [--groups a,b] [--force]
  users disable USER | users enable USER   recorded with your name
  users edit USER [--display-name TEXT] [--groups a,b] [--enable|--disable] [--force]
  users remove USER [--yes]               revokes their passkeys fleet-wide, drops unused codes
  credentials list [USER]                 roaming keys, and TPM passkeys with their terminal
  credentials revoke ID [--yes] [--reason TEXT]
                                          every terminal's copy drops it within moments
  codes issue USER [--ttl 24h] [--purpose enroll|recovery] | codes list | codes cancel ID
  policy show | policy apply FILE [--dry-run] [--base VERSION] [--yes]
  revocations list                        what was revoked, when, by whom, why
  terminals list                          site, ward, labels, health, last heartbeat,
                                          revision applied, offline since, version
  terminals set NAME [--site S] [--ward W] [--label KEY=VALUE]…
                                          the inventory record; KEY= removes a label
  whoami                                  your certificate's name and role
  sessions list                           the session in progress at every terminal
  sessions end TERMINAL [--user USER]     end it there (wiped); the terminal audits who asked
  audit tail [-n 20] [--person P] [--terminal T] [--since T] [--until T] [--event E,…]
                                          the newest archived entries of every terminal
                                          (T: RFC 3339, or a duration ago such as 90m)
  audit follow [--count N] [--for DURATION] [filters as tail]
                                          entries as the fleet service archives them
  audit export [-o FILE] [filters as tail] JSON lines; with --terminal, that terminal's
                                          chain as an export's lines (audit verify FILE checks it)
  audit verify                            check every terminal's archived chain on disk

flags for every command:
  --json             JSON output for scripts
  --socket PATH      admin socket (default $PASSKIOSK_SOCKET, else admin.socket in
                     /etc/passkiosk/passkiosk.toml, else /run/passkiosk/admin.sock;
                     when that is absent, a demo's demo-state/admin.sock here or above)
  --timeout 30s      how long to wait for the appliance

exit codes: 0 done, 1 failed or interrupted, 2 usage, 3 refused (on the fleet: your
            certificate has no role, or only auditor), 4 not found,
            5 appliance unreachable, 6 conflict, 7 invalid input
`
