package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// An X server admits a client that presents no cookie when an entry of
// its host access list matches it (X Window System Protocol, "Access
// Control"; Xsecurity(7)). The entry that names a local user is of the
// ServerInterpreted family, type "localuser", value a user name or "#"
// and a uid: the server compares it with the connecting socket's peer
// uid. It is what `xhost +si:localuser:NAME` adds. The session uid gets
// one for the length of a session, so that X11 session programs (as that
// uid, without the appliance's cookie) can show their windows, and loses
// it at the wipe.
//
// The list is the server's, not the session's: a client the server
// admits may itself change it (ChangeHosts and SetAccessControl need only
// a local connection). So the wipe does not only delete the entry it
// added: it puts the list back as it was when the session started (every
// entry added since removed, access control on again if the session
// turned it off), then reads it back, and anything that still lets the
// session uid in, or was added since, is a failed wipe.

// X11 core requests (X11R7 protocol, "Requests").
const (
	reqChangeHosts      = 109
	reqListHosts        = 110
	reqSetAccessControl = 111
	reqGetInputFocus    = 43

	familyServerInterpreted = 5
	siLocalUser             = "localuser"
)

// x11Host is one entry of the host access list.
type x11Host struct {
	family byte
	addr   []byte
}

func (h x11Host) String() string {
	if h.family == familyServerInterpreted {
		if typ, val, ok := bytes.Cut(h.addr, []byte{0}); ok {
			return "si:" + string(typ) + ":" + string(val)
		}
	}
	return fmt.Sprintf("family %d %x", h.family, h.addr)
}

func (h x11Host) equal(o x11Host) bool { return h.family == o.family && bytes.Equal(h.addr, o.addr) }

// localUserHost is the si:localuser entry for value (a user name or
// "#uid").
func localUserHost(value string) x11Host {
	return x11Host{family: familyServerInterpreted, addr: append([]byte(siLocalUser+"\x00"), value...)}
}

// namesUID reports whether h is a localuser entry that admits uid: its
// value is "#uid", or a user name whose uid it is.
func (h x11Host) namesUID(uid uint32) bool {
	if h.family != familyServerInterpreted {
		return false
	}
	typ, val, ok := bytes.Cut(h.addr, []byte{0})
	if !ok || string(typ) != siLocalUser || len(val) == 0 {
		return false
	}
	want := strconv.FormatUint(uint64(uid), 10)
	if val[0] == '#' {
		// The server reads the number with strtol(…, 0): accept what it
		// would, decimal, octal and hex alike.
		n, err := strconv.ParseUint(string(val[1:]), 0, 32)
		return err == nil && n == uint64(uid)
	}
	u, err := user.Lookup(string(val))
	return err == nil && u.Uid == want
}

// changeHosts inserts or deletes one entry (ChangeHosts). The request has
// no reply; the GetInputFocus round trip after it returns the server's
// error for it, if any (BadAccess, BadValue), because the server answers
// requests in order.
func (x *x11conn) changeHosts(insert bool, h x11Host) error {
	req := make([]byte, 8+len(h.addr)+pad4(len(h.addr)))
	req[0] = reqChangeHosts
	if !insert {
		req[1] = 1 // Delete
	}
	le.PutUint16(req[2:], uint16(len(req)/4))
	req[4] = h.family
	le.PutUint16(req[6:], uint16(len(h.addr)))
	copy(req[8:], h.addr)
	if err := x.send(req); err != nil {
		return err
	}
	return x.sync()
}

// setAccessControl turns access control on or off (SetAccessControl).
func (x *x11conn) setAccessControl(on bool) error {
	req := []byte{reqSetAccessControl, 0, 1, 0}
	if on {
		req[1] = 1
	}
	if err := x.send(req); err != nil {
		return err
	}
	return x.sync()
}

// sync waits until the server has handled every request sent so far.
func (x *x11conn) sync() error {
	_, err := x.roundTrip([]byte{reqGetInputFocus, 0, 1, 0})
	return err
}

// listHosts returns whether access control is on and the host list
// (ListHosts).
func (x *x11conn) listHosts() (bool, []x11Host, error) {
	p, err := x.roundTrip([]byte{reqListHosts, 0, 1, 0})
	if err != nil {
		return false, nil, err
	}
	enabled := p[1] == 1
	n := int(le.Uint16(p[8:]))
	var hosts []x11Host
	b := p[32:]
	for i := 0; i < n; i++ {
		if len(b) < 4 {
			return false, nil, errors.New("x11 ListHosts reply is cut short")
		}
		l := int(le.Uint16(b[2:]))
		if len(b) < 4+l {
			return false, nil, errors.New("x11 ListHosts reply is cut short")
		}
		hosts = append(hosts, x11Host{family: b[0], addr: bytes.Clone(b[4 : 4+l])})
		b = b[min(4+l+pad4(l), len(b)):]
	}
	return enabled, hosts, nil
}

// x11Access grants one uid the display for a session and takes it back.
type x11Access struct {
	display, authFile string
	uid               uint32
	timeout           time.Duration
	admit             func() error // Config.X11Admit, or nil
}

// x11Before is the host list as it was before the grant, what the wipe
// restores.
type x11Before struct {
	enabled bool
	hosts   []x11Host
}

func (a x11Access) dial() (*x11conn, error) {
	c, err := dialX11(a.display, a.authFile, a.timeout)
	if errors.Is(err, errX11Refused) && a.admit != nil {
		// The display's owner restarted it since it last let the
		// appliance in (a new Xwayland with a fresh host list): it lets
		// it in again. A display that is not there stays not there.
		if err := a.admit(); err != nil {
			return nil, err
		}
		c, err = dialX11(a.display, a.authFile, a.timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to X display %s: %w", a.display, err)
	}
	_ = c.c.SetDeadline(time.Now().Add(a.timeout))
	return c, nil
}

// entry is the si:localuser entry for the uid: by user name, as xhost
// would write it, when the uid has one; "#uid" otherwise.
func (a x11Access) entry() x11Host {
	if u, err := user.LookupId(strconv.FormatUint(uint64(a.uid), 10)); err == nil && u.Username != "" {
		return localUserHost(u.Username)
	}
	return localUserHost("#" + strconv.FormatUint(uint64(a.uid), 10))
}

// grant records the host list and adds the uid's entry.
func (a x11Access) grant() (x11Before, error) {
	c, err := a.dial()
	if err != nil {
		return x11Before{}, err
	}
	defer c.c.Close()
	enabled, hosts, err := c.listHosts()
	if err != nil {
		return x11Before{}, fmt.Errorf("listing the X server's host access: %w", err)
	}
	// An entry for the uid that is there before the session (left by a
	// run that could not clean up, or added by hand) is not part of the
	// state to restore: it goes at the wipe too.
	var keep []x11Host
	for _, h := range hosts {
		if !h.namesUID(a.uid) {
			keep = append(keep, h)
		}
	}
	e := a.entry()
	if err := c.changeHosts(true, e); err != nil {
		return x11Before{}, fmt.Errorf("adding %v to the X server's host access: %w", e, err)
	}
	return x11Before{enabled: enabled, hosts: keep}, nil
}

// x11Revoked is what taking the display back found.
type x11Revoked struct {
	removed int // entries deleted
	// left counts what the final ListHosts still shows: entries that
	// admit the uid or were added since the session started, and access
	// control left off (counted as one).
	left int
}

// revoke removes every entry that admits the uid and, when before is
// known, every entry added since and access control turned off since;
// then it lists the hosts again to check.
func (a x11Access) revoke(before *x11Before) (x11Revoked, error) {
	var r x11Revoked
	c, err := a.dial()
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		// No server listens: the list lived in the memory of a server
		// that is gone, and a new one starts with its own.
		return r, nil
	}
	if err != nil {
		r.left = -1
		return r, err
	}
	defer c.c.Close()
	enabled, hosts, err := c.listHosts()
	if err != nil {
		r.left = -1
		return r, fmt.Errorf("listing the X server's host access: %w", err)
	}
	var errs []error
	for _, h := range a.unwanted(hosts, before) {
		if err := c.changeHosts(false, h); err != nil {
			errs = append(errs, fmt.Errorf("removing %v: %w", h, err))
			continue
		}
		r.removed++
	}
	if before != nil && before.enabled && !enabled {
		if err := c.setAccessControl(true); err != nil {
			errs = append(errs, fmt.Errorf("turning access control on again: %w", err))
		}
	}
	// The check: read the list back.
	enabled, hosts, err = c.listHosts()
	if err != nil {
		r.left = -1
		return r, errors.Join(append(errs, fmt.Errorf("listing the X server's host access: %w", err))...)
	}
	left := a.unwanted(hosts, before)
	r.left = len(left)
	if before != nil && before.enabled && !enabled {
		r.left++
		errs = append(errs, errors.New("access control is still off"))
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("still in the host access list: %v", left))
	}
	return r, errors.Join(errs...)
}

// unwanted picks the entries the wipe removes: those that admit the uid,
// and with before, those that were not there at the start.
func (a x11Access) unwanted(hosts []x11Host, before *x11Before) []x11Host {
	var out []x11Host
	for _, h := range hosts {
		switch {
		case h.namesUID(a.uid):
			out = append(out, h)
		case before != nil && !containsHost(before.hosts, h):
			out = append(out, h)
		}
	}
	return out
}

func containsHost(hs []x11Host, h x11Host) bool {
	for _, o := range hs {
		if o.equal(h) {
			return true
		}
	}
	return false
}

// Admit adds a si:localuser entry for the local account name to the X
// display's access list, as `xhost +si:localuser:NAME` does.
func Admit(display, authFile, name string, timeout time.Duration) error {
	x, err := dialX11(display, authFile, timeout)
	if err != nil {
		return err
	}
	defer x.c.Close()
	if err := x.changeHosts(true, localUserHost(name)); err != nil {
		return err
	}
	return x.sync()
}

// admitEnv names the display a child of the appliance admits root to
// (AdmitRootAs, ServeAdmit).
const admitEnv = "PASSKIOSK_X11_ADMIT_ROOT"

// AdmitRootAs admits root to the X display by running this program again
// as uid:gid, the display's owner: under cage, Xwayland admits only the
// account that runs the compositor, and a root daemon is refused until
// that account lets it in. The program must call ServeAdmit first thing
// in main. Bounded by 5 s.
func AdmitRootAs(uid, gid int, display string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = []string{admitEnv + "=" + display, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("admitting root to X display %s as uid %d: %v: %s", display, uid, err, bytes.TrimSpace(out))
	}
	return nil
}

// ServeAdmit is the child's side of AdmitRootAs: in that child it admits
// root to the display and exits; anywhere else it returns at once.
func ServeAdmit() {
	display := os.Getenv(admitEnv)
	if display == "" {
		return
	}
	// Xwayland starts on the first connection and may take a moment.
	var err error
	for try := 0; try < 8; try++ {
		if err = Admit(display, "", "root", time.Second); err == nil {
			os.Exit(0)
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
