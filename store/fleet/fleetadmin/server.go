package fleetadmin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/collect"
)

// Options configure Handler.
type Options struct {
	Dir *fleet.Directory
	// AdminCAs verify administrators' client certificates. The server's
	// TLS configuration may accept terminals' certificates as well (one
	// listener for both APIs): only a certificate that verifies against
	// AdminCAs reaches a command. Nil: the TLS configuration's check is
	// the only one (tests with one CA).
	AdminCAs *x509.CertPool
	// Archive is the fleet's audit collector and ArchiveDir its
	// directory (collect.Options.Dir); Feed passes what it archives to
	// audit follows (collect.Options.Archived = Feed.Publish). Nil: no
	// audit commands.
	Archive    *collect.Collector
	ArchiveDir string
	Feed       *Feed
	Log        *slog.Logger
}

// maxArgs bounds a request's body: a policy file is the largest.
const maxArgs = 1 << 20

// command is one command of the API: the role it needs and its handler,
// which answers once (run) or streams (stream).
type command struct {
	role   fleetapi.Role
	run    func(c *call, args []byte) (any, error)
	stream func(c *call, args []byte, send sendFunc) error
}

// sendFunc sends one part of a streamed answer; more says another
// follows.
type sendFunc func(more bool, v any) error

// call is one request of an authorized administrator.
type call struct {
	ctx  context.Context
	s    *server
	who  string
	role fleetapi.Role
	name string
}

type server struct {
	o        Options
	log      *slog.Logger
	commands map[string]command
}

// Handler serves the admin API under fleetapi.PathPrefix. The server
// must require and verify client certificates.
func Handler(o Options) http.Handler {
	s := &server{o: o, log: kiosk.LogOr(o.Log)}
	s.commands = s.table()
	mux := http.NewServeMux()
	mux.HandleFunc(fleetapi.PathPrefix, s.serve)
	return mux
}

func (s *server) table() map[string]command {
	read, change := fleetapi.RoleAuditor, fleetapi.RoleAdmin
	return map[string]command{
		fleetapi.CmdWhoAmI:          {read, (*call).whoAmI, nil},
		admin.CmdUsersList:          {read, (*call).usersList, nil},
		admin.CmdUsersShow:          {read, (*call).usersShow, nil},
		admin.CmdUsersAdd:           {change, (*call).usersAdd, nil},
		admin.CmdUsersDisable:       {change, func(c *call, a []byte) (any, error) { return c.userState(a, "disabled") }, nil},
		admin.CmdUsersEnable:        {change, func(c *call, a []byte) (any, error) { return c.userState(a, "active") }, nil},
		admin.CmdUsersEdit:          {change, (*call).usersEdit, nil},
		admin.CmdUsersRemove:        {change, (*call).usersRemove, nil},
		admin.CmdCodesCancel:        {change, (*call).codesCancel, nil},
		admin.CmdCredentialsList:    {read, (*call).credentialsList, nil},
		admin.CmdCredentialsRevoke:  {change, (*call).credentialsRevoke, nil},
		admin.CmdCodesIssue:         {change, (*call).codesIssue, nil},
		admin.CmdCodesList:          {read, (*call).codesList, nil},
		admin.CmdPolicyShow:         {read, (*call).policyShow, nil},
		admin.CmdPolicyApply:        {change, (*call).policyApply, nil},
		fleetapi.CmdRevocationsList: {read, (*call).revocationsList, nil},
		fleetapi.CmdTerminalsList:   {read, (*call).terminalsList, nil},
		fleetapi.CmdTerminalsSet:    {change, (*call).terminalsSet, nil},
		admin.CmdSessionsList:       {read, (*call).sessionsList, nil},
		admin.CmdSessionsEnd:        {change, (*call).sessionsEnd, nil},
		admin.CmdAuditTail:          {read, (*call).auditTail, nil},
		admin.CmdAuditVerify:        {read, (*call).auditVerify, nil},
		admin.CmdAuditExport:        {read, nil, (*call).auditExport},
		admin.CmdAuditFollow:        {read, nil, (*call).auditFollow},
	}
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, fleetapi.PathPrefix)
	if r.Method != http.MethodPost {
		writeError(w, &admin.Error{Code: admin.ExitUsage, Kind: kiosk.KindMalformed.String(), Message: "the admin API takes POST only"})
		return
	}
	who, role, err := s.authorize(r)
	if err != nil {
		s.log.Warn("fleet admin: refused", "admin", who, "command", name, "remote", r.RemoteAddr, "err", err)
		writeError(w, err)
		return
	}
	cmd, ok := s.commands[name]
	if !ok {
		writeError(w, &admin.Error{Code: admin.ExitUsage, Kind: kiosk.KindMalformed.String(),
			Message: fmt.Sprintf("the fleet service has no command %q: run passkioskctl help for the commands that take --fleet", name)})
		return
	}
	if cmd.role == fleetapi.RoleAdmin && role != fleetapi.RoleAdmin {
		err := refused("%s is an %s in the fleet: %s changes records and needs the admin role (someone with the cluster's root credentials runs: passkioskctl fleet admin add %s --role admin …)", who, role, name, who)
		s.log.Warn("fleet admin: refused", "admin", who, "role", role, "command", name, "err", err)
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxArgs+1))
	if err != nil || len(body) > maxArgs {
		writeError(w, &admin.Error{Code: admin.ExitInvalid, Kind: kiosk.KindMalformed.String(), Message: fmt.Sprintf("the request is over %d bytes or was cut off", maxArgs)})
		return
	}
	if cmd.stream != nil {
		s.serveStream(w, &call{ctx: r.Context(), s: s, who: who, role: role, name: name}, cmd, body)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	res, err := cmd.run(&call{ctx: ctx, s: s, who: who, role: role, name: name}, body)
	if err != nil {
		s.log.Info("fleet admin: failed", "admin", who, "command", name, "err", err)
		writeError(w, err)
		return
	}
	writeLine(w, http.StatusOK, admin.Response{OK: true, Result: mustJSON(res)})
}

// streamWrite bounds each write of a stream: the server's own
// WriteTimeout would cut a follow that runs longer.
const streamWrite = 30 * time.Second

// serveStream runs a streaming command: its parts are admin.Response
// lines, flushed as they are sent. An error before the first part is
// answered with its status; after it, as the stream's last line.
func (s *server) serveStream(w http.ResponseWriter, c *call, cmd command, body []byte) {
	rc := http.NewResponseController(w)
	started := false
	send := func(more bool, v any) error {
		if err := rc.SetWriteDeadline(time.Now().Add(streamWrite)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		r := admin.Response{OK: true, Result: mustJSON(v), More: more}
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		b, _ := json.Marshal(r)
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
		return rc.Flush()
	}
	err := cmd.stream(c, body, send)
	switch {
	case err == nil:
	case !started:
		s.log.Info("fleet admin: failed", "admin", c.who, "command", c.name, "err", err)
		writeError(w, err)
	case c.ctx.Err() == nil:
		s.log.Info("fleet admin: stream failed", "admin", c.who, "command", c.name, "err", err)
		b, _ := json.Marshal(admin.Response{Error: admin.ErrorOf(err)})
		_, _ = w.Write(append(b, '\n'))
	}
}

// refused is a permission error with its exit code.
func refused(format string, args ...any) *admin.Error {
	return &admin.Error{Code: admin.ExitRefused, Kind: kiosk.KindNotAllowed.String(), Message: fmt.Sprintf(format, args...)}
}

// authorize says who the request's client certificate names and the
// role the cluster gives them.
func (s *server) authorize(r *http.Request) (string, fleetapi.Role, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", "", refused("the fleet's admin API needs your client certificate (passkioskctl --fleet-cert and --fleet-key)")
	}
	leaf := r.TLS.PeerCertificates[0]
	name := leaf.Subject.CommonName
	if s.o.AdminCAs != nil {
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.o.AdminCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return name, "", refused("certificate %q is not an administrator's (it is not signed by the fleet service's --admin-ca): use your own admin certificate", name)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	resp, err := s.o.Dir.Client.Get(ctx, fleetapi.AdminKey(name))
	if err != nil {
		return name, "", kiosk.E(kiosk.KindOffline, "fleet admin", fmt.Errorf("the cluster did not answer who %q is: %v", name, err))
	}
	if len(resp.Kvs) == 0 {
		return name, "", refused("certificate %q has no role in the fleet: someone with the cluster's root credentials runs "+
			"`passkioskctl fleet admin add %s --role admin|auditor --endpoints … --admin-cert … --admin-key … --ca …`", name, name)
	}
	a, err := fleetapi.DecodeAdmin(resp.Kvs[0].Value)
	if err != nil {
		return name, "", refused("%q: %v; add the administrator again with this version of passkioskctl", name, err)
	}
	return name, a.Role, nil
}

// decodeArgs reads a command's arguments strictly.
func decodeArgs(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &admin.Error{Code: admin.ExitInvalid, Kind: kiosk.KindMalformed.String(), Message: "bad arguments: " + err.Error()}
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the package's own result types come here
	}
	return b
}

// statusOf is the HTTP status that says what an exit code says.
func statusOf(code int) int {
	switch code {
	case admin.ExitRefused:
		return http.StatusForbidden
	case admin.ExitNotFound:
		return http.StatusNotFound
	case admin.ExitConflict:
		return http.StatusConflict
	case admin.ExitInvalid:
		return http.StatusUnprocessableEntity
	case admin.ExitUsage:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	we := admin.ErrorOf(err)
	status := statusOf(we.Code)
	if kiosk.KindOf(err) == kiosk.KindOffline {
		status = http.StatusServiceUnavailable
	}
	writeLine(w, status, admin.Response{Error: we})
}

func writeLine(w http.ResponseWriter, status int, r admin.Response) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(status)
	b, _ := json.Marshal(r)
	_, _ = w.Write(append(b, '\n'))
}

// changed logs a change with who made it.
func (c *call) changed(what string, rev int64, attrs ...any) {
	c.s.log.Info("fleet admin: changed", append([]any{"admin", c.who, "command", c.name, "record", what, "revision", rev}, attrs...)...)
}

func (c *call) whoAmI([]byte) (any, error) {
	return fleetapi.WhoAmI{Name: c.who, Role: c.role}, nil
}
