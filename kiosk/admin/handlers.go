package admin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/config"
	"passkiosk/kiosk/policy"
)

// Commands lists every command the server knows, for error messages.
func Commands() []string {
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// call is one command being served.
type call struct {
	s    *Server
	peer Peer
	args json.RawMessage
	w    *responder
	conn *net.UnixConn
	// release gives up the connection's slot among MaxConns.
	release func()
}

// decode reads the command's arguments strictly.
func (c *call) decode(v any) error {
	if err := strictJSON(c.args, v); err != nil {
		return invalid("bad arguments: %v", err)
	}
	return nil
}

type handler func(c *call) (any, error)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		CmdStatus:            (*call).status,
		CmdUsersList:         (*call).usersList,
		CmdUsersShow:         (*call).usersShow,
		CmdUsersAdd:          (*call).usersAdd,
		CmdUsersDisable:      changesPeople(func(c *call) (any, error) { return c.usersSetState("disabled") }),
		CmdUsersEnable:       changesPeople(func(c *call) (any, error) { return c.usersSetState("active") }),
		CmdUsersRemove:       changesPeople((*call).usersRemove),
		CmdUsersEdit:         changesPeople((*call).usersEdit),
		CmdCredentialsList:   (*call).credentialsList,
		CmdCredentialsRevoke: changesPeople((*call).credentialsRevoke),
		CmdCodesIssue:        (*call).codesIssue,
		CmdCodesList:         (*call).codesList,
		CmdCodesCancel:       (*call).codesCancel,
		CmdPolicyShow:        (*call).policyShow,
		CmdPolicyApply:       (*call).policyApply,
		CmdSessionsList:      (*call).sessionsList,
		CmdSessionsEnd:       (*call).sessionsEnd,
		CmdAuditTail:         (*call).auditTail,
		CmdAuditFollow:       (*call).auditFollow,
		CmdAuditExport:       (*call).auditExport,
		CmdAuditVerify:       (*call).auditVerify,
	}
}

// changesPeople tells the appliance (Options.OnPeople) after h changed who
// may sign in, so the lock screen drops a disabled or removed person's
// tile at once, not when someone next taps it.
func changesPeople(h handler) handler {
	return func(c *call) (any, error) {
		res, err := h(c)
		if err == nil && c.s.opts.OnPeople != nil {
			c.s.opts.OnPeople()
		}
		return res, err
	}
}

func (s *Server) dispatch(req Request, peer Peer, w *responder, conn *net.UnixConn, release func()) {
	h, ok := handlers[req.Command]
	if !ok {
		w.fail(&Error{Code: ExitUsage, Kind: kiosk.KindMalformed.String(),
			Message: fmt.Sprintf("unknown command %q; the appliance knows: %s", req.Command, strings.Join(Commands(), ", "))})
		return
	}
	c := &call{s: s, peer: peer, args: req.Args, w: w, conn: conn, release: release}
	res, err := h(c)
	switch {
	case err != nil:
		e := errorOf(err)
		if ps := config.ProblemsOf(err); ps != nil {
			for _, p := range ps {
				e.Problems = append(e.Problems, p.String())
			}
		}
		w.fail(e)
	case res != streamed:
		w.ok(res)
	}
}

// streamed is what a streaming handler returns: it wrote its own
// responses.
var streamed = &struct{}{}

func (c *call) status() (any, error) {
	v := c.s.opts.Appliance.View()
	st := Status{
		Version: c.s.opts.Version, Terminal: c.s.opts.Terminal, Health: "ok", State: v.State.String(),
		TPM: TPMStatus{Available: v.PlatformAvailable, Reason: v.PlatformReason}, Keys: []KeyStatus{},
	}
	if v.State == kiosk.StateOutOfService {
		st.Health, st.OutOfService = "out-of-service", v.OutOfService
	}
	if c.s.opts.Keys != nil {
		for _, k := range c.s.opts.Keys() {
			st.Keys = append(st.Keys, KeyStatus{ID: k.ID, Product: k.Product, AAGUID: policy.FormatAAGUID(k.AAGUID), PIN: k.HasPIN, Fingerprint: k.HasFingerprint})
		}
	}
	st.Session = current(v)
	c.tpmHealth(&st)
	c.fleetHealth(&st)
	if c.s.opts.Isolation != nil {
		iso := c.s.opts.Isolation()
		st.Isolation = &iso
		if iso.Fallback != "" && st.Health == "ok" {
			st.Health, st.OutOfService = "degraded", "sessions: "+iso.Fallback
		}
	}
	var errs []error
	if p, err := c.s.opts.Store.Policy(); err == nil {
		st.PolicyVersion = p.Version
	} else if kiosk.KindOf(err) != kiosk.KindNotFound {
		errs = append(errs, err)
	}
	head, err := c.s.opts.Store.AuditHead()
	errs = append(errs, err)
	st.AuditHead, st.AuditHash = head.Seq, head.Hash
	users, err := c.s.opts.Store.Users()
	errs = append(errs, err)
	st.Users = len(users)
	if _, down := c.s.opts.Store.(unavailable); down {
		return st, nil
	}
	if err := errors.Join(errs...); err != nil && st.Health == "ok" {
		st.Health = "degraded"
		st.OutOfService = "records: " + err.Error()
	}
	return st, nil
}

func current(v kiosk.View) *CurrentSession {
	if v.Session == nil {
		return nil
	}
	return &CurrentSession{User: userIDOf(v.Session.User), DisplayName: v.Session.DisplayName, Started: v.Session.Started, EndsAt: v.Session.EndsAt}
}

// userIDOf is the admin API's ID of the engine's user: the hex of the
// same bytes (the engine's kiosk.UserID is the store's user ID, which is
// the WebAuthn user handle and not printable).
func userIDOf(u kiosk.UserID) string { return hex.EncodeToString([]byte(u)) }

// findUser resolves a user by sign-in name, then by ID.
func (c *call) findUser(ref string) (User, error) {
	if ref == "" {
		return User{}, invalid("name the user")
	}
	users, err := c.s.opts.Store.Users()
	if err != nil {
		return User{}, err
	}
	for _, u := range users {
		if u.Name == ref {
			return u, nil
		}
	}
	for _, u := range users {
		if u.ID == strings.ToLower(ref) || readableOf(u.ID) == ref {
			return u, nil
		}
	}
	return User{}, kiosk.Errorf(kiosk.KindNotFound, "find user", "no user %q (see passkioskctl users list)", ref)
}

// userArg decodes a call whose argument names one user and finds them.
func (c *call) userArg() (User, error) {
	var a UserRef
	if err := c.decode(&a); err != nil {
		return User{}, err
	}
	return c.findUser(a.User)
}

// list is what a listing answers: never null, so a client reads an empty
// list as one.
func list[T any](s []T, err error) ([]T, error) {
	if s == nil {
		s = []T{}
	}
	return s, err
}

func (c *call) usersList() (any, error) {
	if err := c.decode(&struct{}{}); err != nil {
		return nil, err
	}
	return list(c.s.opts.Store.Users())
}

func (c *call) usersShow() (any, error) {
	u, err := c.userArg()
	if err != nil {
		return nil, err
	}
	d := UserDetail{User: u, Credentials: []Credential{}, Codes: []Code{}}
	if d.Credentials, err = c.credentialsOf(u); err != nil {
		return nil, err
	}
	codes, err := c.s.opts.Store.Codes()
	if err != nil && kiosk.KindOf(err) != kiosk.KindNotAllowed {
		return nil, err
	}
	for _, code := range codes {
		if code.UserID == u.ID {
			code.UserName = u.Name
			d.Codes = append(d.Codes, code)
		}
	}
	return d, nil
}

func (c *call) credentialsOf(u User) ([]Credential, error) {
	creds, err := c.s.opts.Store.Credentials(u.ID)
	for i := range creds {
		creds[i].UserName = u.Name
	}
	return list(creds, err)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (c *call) usersAdd() (any, error) {
	var a UserAddArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if !validName(a.Name) {
		return nil, invalid("user name %q: use 1 to 64 of a-z, 0-9, '.', '-' and '_'", a.Name)
	}
	if err := c.checkGroups(a.Groups, a.Force); err != nil {
		return nil, err
	}
	if a.DisplayName == "" {
		a.DisplayName = a.Name
	}
	users, err := c.s.opts.Store.Users()
	if err != nil {
		return nil, err
	}
	id, err := newUserID(func(h string) bool {
		return slices.ContainsFunc(users, func(u User) bool { return u.ID == h })
	})
	if err != nil {
		return nil, err
	}
	u := User{ID: id, Name: a.Name, DisplayName: a.DisplayName, Groups: a.Groups, State: "active"}
	if u.Groups == nil {
		u.Groups = []string{}
	}
	// The store refuses a name already taken in the transaction that
	// would add the user, so two administrators adding one name at once
	// cannot both succeed (KindConflict, ExitConflict).
	if err := c.s.opts.Store.PutUser(u, c.peer.change(nil)); err != nil {
		return nil, err
	}
	return c.findUser(u.ID)
}

func (c *call) usersSetState(state string) (any, error) {
	u, err := c.userArg()
	if err != nil {
		return nil, err
	}
	u.State = state
	if err := c.s.opts.Store.PutUser(u, c.peer.change(map[string]string{"state": state})); err != nil {
		return nil, err
	}
	return c.findUser(u.ID)
}

func (c *call) usersRemove() (any, error) {
	u, err := c.userArg()
	if err != nil {
		return nil, err
	}
	if v := c.s.opts.Appliance.View(); v.Session != nil && userIDOf(v.Session.User) == u.ID {
		return nil, kiosk.Errorf(kiosk.KindConflict, "remove user", "%s is signed in: end the session first (passkioskctl sessions end)", u.Name)
	}
	if err := c.s.opts.Store.RemoveUser(u.ID, c.peer.change(nil)); err != nil {
		return nil, err
	}
	return u, nil
}

func (c *call) credentialsList() (any, error) {
	var a CredentialsListArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if a.User != "" {
		u, err := c.findUser(a.User)
		if err != nil {
			return nil, err
		}
		return c.credentialsOf(u)
	}
	return c.allCredentials()
}

func (c *call) allCredentials() ([]Credential, error) {
	users, err := c.s.opts.Store.Users()
	if err != nil {
		return nil, err
	}
	all := []Credential{}
	for _, u := range users {
		creds, err := c.credentialsOf(u)
		if err != nil {
			return nil, err
		}
		all = append(all, creds...)
	}
	return all, nil
}

// byPrefix finds the one ID that ref is, or is a prefix of (at least 6
// hex digits, so a typo does not pick an arbitrary record).
func byPrefix[T any](what, ref string, records []T, idOf func(T) string) (string, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if _, err := hex.DecodeString(ref + ref[:len(ref)%2]); err != nil || len(ref) < 6 {
		return "", invalid("%s ID %q: give the hex ID or at least its first 6 digits", what, ref)
	}
	var match []string
	for _, r := range records {
		id := idOf(r)
		if id == ref {
			return id, nil
		}
		if strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return "", kiosk.Errorf(kiosk.KindNotFound, "find "+what, "no %s with ID %s", what, ref)
	case 1:
		return match[0], nil
	}
	return "", invalid("%s ID %s is ambiguous (%d match): give more digits", what, ref, len(match))
}

func (c *call) credentialsRevoke() (any, error) {
	var a IDRef
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	all, err := c.allCredentials()
	if err != nil {
		return nil, err
	}
	id, err := byPrefix("credential", a.ID, all, func(c Credential) string { return c.ID })
	if err != nil {
		return nil, err
	}
	for _, cr := range all {
		if cr.ID == id {
			if err := c.s.opts.Store.RemoveCredential(id, c.peer.change(map[string]string{"revoked": "admin"})); err != nil {
				return nil, err
			}
			return cr, nil
		}
	}
	return nil, kiosk.Errorf(kiosk.KindNotFound, "revoke credential", "credential %s vanished", id)
}

// MaxCodeTTL bounds a code's life, as the store does.
const MaxCodeTTL = 7 * 24 * time.Hour

func (c *call) codesIssue() (any, error) {
	var a CodeIssueArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if a.Purpose == "" {
		a.Purpose = "enroll"
	}
	if a.TTL <= 0 || a.TTL > MaxCodeTTL {
		return nil, invalid("ttl %s: a code must be valid for more than 0 and at most %s", a.TTL, MaxCodeTTL)
	}
	var u User
	switch a.Purpose {
	case "enroll", "recovery":
		var err error
		if u, err = c.findUser(a.User); err != nil {
			return nil, err
		}
		if u.State == "disabled" {
			return nil, kiosk.Errorf(kiosk.KindConflict, "issue code", "%s is disabled: enable them first (passkioskctl users enable %s)", u.Name, u.Name)
		}
	case "bootstrap":
		return nil, invalid("there are no bootstrap codes: the appliance has no administrator accounts (administrators are root and the admin group, using passkioskctl); add the person and issue them an enroll code")
	default:
		return nil, invalid("purpose %q: use enroll or recovery", a.Purpose)
	}
	code, info, err := c.s.opts.Store.IssueCode(u.ID, a.Purpose, a.TTL, c.peer.change(nil))
	if err != nil {
		return nil, err
	}
	info.UserName = u.Name
	return IssuedCode{Code: code, Info: info}, nil
}

func (c *call) codesList() (any, error) {
	if err := c.decode(&struct{}{}); err != nil {
		return nil, err
	}
	codes, err := c.s.opts.Store.Codes()
	if err != nil {
		return nil, err
	}
	names, err := c.userNames()
	if err != nil {
		return nil, err
	}
	for i := range codes {
		codes[i].UserName = names[codes[i].UserID]
	}
	return list(codes, nil)
}

func (c *call) codesCancel() (any, error) {
	var a IDRef
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	codes, err := c.s.opts.Store.Codes()
	if err != nil {
		return nil, err
	}
	id, err := byPrefix("code", a.ID, codes, func(c Code) string { return c.ID })
	if err != nil {
		return nil, err
	}
	if err := c.s.opts.Store.CancelCode(id, c.peer.change(nil)); err != nil {
		return nil, err
	}
	return IDRef{ID: id}, nil
}

func (c *call) sessionsList() (any, error) {
	var a SessionsListArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	journal, err := c.s.opts.Store.Sessions(a.OpenOnly)
	if err != nil {
		return nil, err
	}
	names, err := c.userNames()
	if err != nil {
		return nil, err
	}
	for i := range journal {
		journal[i].UserName = names[journal[i].UserID]
	}
	journal, _ = list(journal, nil)
	return SessionsList{Current: current(c.s.opts.Appliance.View()), Journal: journal}, nil
}

func (c *call) sessionsEnd() (any, error) {
	if err := c.decode(&struct{}{}); err != nil {
		return nil, err
	}
	v := c.s.opts.Appliance.View()
	if v.Session == nil {
		return nil, kiosk.Errorf(kiosk.KindNotFound, "end session", "no session is in progress at %s", c.s.opts.Terminal)
	}
	// The engine audits the end and the wipe itself, with their cause;
	// only this side knows who asked. So the request is audited as a
	// request, after the engine said whether it took it: an entry must
	// never show an end that did not happen.
	user := userIDOf(v.Session.User)
	accepted := c.s.opts.Appliance.EndSession(kiosk.EndAdmin)
	detail := map[string]string{"session-started": v.Session.Started.UTC().Format(time.RFC3339)}
	if err := c.s.opts.Store.EndRequested(user, accepted, c.peer.change(detail)); err != nil {
		if accepted {
			return nil, kiosk.Errorf(kiosk.KindOf(err), "end session", "the session is ending, but the request could not be audited: %v", err)
		}
		return nil, err
	}
	if !accepted {
		return nil, kiosk.Errorf(kiosk.KindNotFound, "end session", "the session ended on its own meanwhile")
	}
	return SessionsEndResult{Ended: true}, nil
}

// clientGone returns a context that ends when the client hangs up (its
// read side returns) or the server closes.
func (c *call) clientGone() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(c.s.ctx)
	go func() {
		defer cancel()
		c.conn.SetReadDeadline(time.Time{})
		buf := make([]byte, 1)
		for ctx.Err() == nil {
			if _, err := c.conn.Read(buf); err != nil {
				return
			}
		}
	}()
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Now()) })
	return ctx, func() { stop(); cancel() }
}

// userNames maps user IDs to sign-in names, for listings that store only
// the ID.
func (c *call) userNames() (map[string]string, error) {
	users, err := c.s.opts.Store.Users()
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Name
	}
	return names, nil
}
