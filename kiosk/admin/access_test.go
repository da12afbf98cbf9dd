package admin_test

import (
	"bufio"
	"encoding/json"
	"net"
	"os/user"
	"passkiosk/kiosk"
	"passkiosk/store/storeport"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk/admin"
)

const nobody = 65534

func TestNonAdminIsRefusedByPeerCredentials(t *testing.T) {
	needRoot(t)
	// The socket is open to everyone by mode, so only the peer check
	// stands between an ordinary user and the appliance.
	a := newAppliance(t, func(o *admin.Options) { o.SocketMode = 0o666 })
	before, err := a.db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"users", "add", "mallory"}, {"status"}, {"audit", "export"}, {"policy", "show"}} {
		r := a.run(&syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, args...)
		if r.code != admin.ExitRefused || !regexp.MustCompile(`nobody \(uid 65534, pid [0-9]+\) may not administer this appliance: only root and members of group `+regexp.QuoteMeta(`"`+absentGroup+`"`)).MatchString(r.err) || r.out != "" {
			t.Fatalf("passkioskctl %v as nobody: %s", args, r)
		}
	}
	after, err := a.db.VerifyChain()
	if err != nil {
		t.Fatal(err)
	}
	users, _ := a.db.Users()
	if after.Head != before.Head || len(users) != 0 {
		t.Fatalf("a refused client changed the records: head %d → %d, %d users", before.Head, after.Head, len(users))
	}
	if !strings.Contains(a.logs.String(), `msg="admin: refused" peer="nobody (uid 65534`) {
		t.Fatalf("refusal not logged:\n%s", a.logs.String())
	}
}

func TestSocketModeKeepsOthersOut(t *testing.T) {
	needRoot(t)
	a := newAppliance(t) // default 0660, root and a group that does not exist
	r := a.run(&syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, "status")
	if r.code != admin.ExitRefused || !strings.Contains(r.err, "permission denied on") {
		t.Fatalf("status as nobody through a 0660 socket: %s", r)
	}
}

// existingGroup finds a group of this machine other than nobody's.
func existingGroup(t *testing.T) (string, uint32) {
	for _, name := range []string{"adm", "staff", "users", "daemon"} {
		if g, err := user.LookupGroup(name); err == nil {
			id, _ := strconv.Atoi(g.Gid)
			if id != nobody && id != 0 {
				return name, uint32(id)
			}
		}
	}
	t.Skip("no group to use as the admin group on this machine")
	return "", 0
}

func TestAdminGroupMembersAreServed(t *testing.T) {
	needRoot(t)
	name, gid := existingGroup(t)
	a := newAppliance(t, func(o *admin.Options) { o.SocketMode = 0o666; o.AdminGroup = name })
	for _, tc := range []struct {
		what string
		cred *syscall.Credential
	}{
		{"supplementary group", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{gid}}},
		{"primary group", &syscall.Credential{Uid: nobody, Gid: gid, Groups: []uint32{}}},
	} {
		user := "u" + strconv.Itoa(int(tc.cred.Gid))
		r := a.run(tc.cred, "users", "add", user)
		if r.code != 0 {
			t.Fatalf("%s member: %s", tc.what, r)
		}
		e := lastAudit(t, a.db, kiosk.EventUserCreated)
		if !regexp.MustCompile(`^nobody \(uid 65534, pid [0-9]+\)$`).MatchString(e.Actor) || e.Detail["admin-uid"] != "65534" || e.Detail["admin-user"] != "nobody" {
			t.Fatalf("%s member's change audited as %+v", tc.what, e)
		}
	}
}

// raw sends bytes on a fresh connection and returns the first response.
func raw(t *testing.T, sock string, data []byte) admin.Response {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go conn.Write(data) // the server may answer before reading it all
	line, err := bufio.NewReaderSize(conn, 1<<20).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no response to %.40q: %v", data, err)
	}
	var r admin.Response
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("response %q: %v", line, err)
	}
	return r
}

func TestMalformedRequestsGetClearErrors(t *testing.T) {
	a := newAppliance(t, func(o *admin.Options) { o.IOTimeout = 300 * time.Millisecond })
	big := make([]byte, admin.MaxMessage+100)
	for i := range big {
		big[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		data []byte
		code int
		want string
	}{
		{"garbage", []byte("\x00\xff\xfe garbage\n"), admin.ExitInvalid, "not valid JSON"},
		{"oversized", big, admin.ExitInvalid, "message larger than 1048576 bytes"},
		{"unknown command", []byte(`{"command":"users.explode"}` + "\n"), admin.ExitUsage, `unknown command "users.explode"; the appliance knows: audit.export`},
		{"bad JSON", []byte(`{"command":"status",` + "\n"), admin.ExitInvalid, "not valid JSON"},
		{"no command", []byte(`{"args":{}}` + "\n"), admin.ExitInvalid, "the request names no command"},
		{"unknown request field", []byte(`{"command":"status","sudo":true}` + "\n"), admin.ExitInvalid, `unknown field "sudo"`},
		{"trailing data", []byte(`{"command":"status"} {"command":"status"}` + "\n"), admin.ExitInvalid, "trailing data"},
		{"wrong argument type", []byte(`{"command":"users.show","args":{"user":7}}` + "\n"), admin.ExitInvalid, "bad arguments"},
		{"unknown argument", []byte(`{"command":"users.add","args":{"name":"x","admin":true}}` + "\n"), admin.ExitInvalid, `unknown field "admin"`},
		{"no newline then hang-up", []byte(`{"command":"status"}`), admin.ExitInvalid, "no request read"},
		{"silence", nil, admin.ExitInvalid, "no request read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, a.sock, tc.data)
			if r.OK || r.Error == nil || r.Error.Code != tc.code || !strings.Contains(r.Error.Message, tc.want) {
				t.Fatalf("response %+v, want code %d and %q", r.Error, tc.code, tc.want)
			}
		})
	}
	// Still serving, and nothing was written.
	if r := a.ok("users", "list", "--json"); strings.TrimSpace(r.out) != "[]" {
		t.Fatalf("after malformed requests: %s", r)
	}
}

// panicky makes one store call panic.
type panicky struct {
	storeport.Admin
	boom atomic.Bool
}

func (p *panicky) Users() ([]admin.User, error) {
	if p.boom.Swap(false) {
		panic("store exploded")
	}
	return p.Admin.Users()
}

func TestHandlerPanicIsAnErrorNotACrash(t *testing.T) {
	var p *panicky
	a := newAppliance(t, func(o *admin.Options) {
		p = &panicky{Admin: o.Store.(storeport.Admin)}
		o.Store = p
	})
	p.boom.Store(true)
	a.fails(admin.ExitFailed, "internal error in the appliance", "users", "list")
	if !strings.Contains(a.logs.String(), "store exploded") {
		t.Fatalf("panic not logged")
	}
	a.ok("users", "list")
}

func TestCommandLineMistakes(t *testing.T) {
	a := newAppliance(t)
	a.fails(admin.ExitUsage, `unknown command "frobnicate"`, "frobnicate")
	a.fails(admin.ExitUsage, `users: unknown action "explode"`, "users", "explode")
	a.fails(admin.ExitUsage, "flag provided but not defined: -colour", "users", "list", "--colour")
	a.fails(admin.ExitUsage, "usage: passkioskctl users show USER", "users", "show")
	if r := a.ctl(); r.code != admin.ExitUsage || !strings.Contains(r.err, "usage: passkioskctl COMMAND") {
		t.Fatalf("no arguments: %s", r)
	}
	if r := a.ok("help"); !strings.Contains(r.out, "exit codes: 0 done") {
		t.Fatalf("help: %s", r)
	}
	// Unreachable: nothing listens on this socket.
	r := a.run(nil, "status", "--socket", a.dir+"/nothing.sock")
	if r.code != admin.ExitUnreachable || !strings.Contains(r.err, "is passkiosk running?") {
		t.Fatalf("unreachable: %s", r)
	}
	r = a.run(nil, "status", "--json", "--socket", a.dir+"/nothing.sock")
	var e struct {
		Error string
		Code  int
	}
	if json.Unmarshal([]byte(r.err), &e) != nil || e.Code != admin.ExitUnreachable {
		t.Fatalf("--json error: %s", r)
	}
}

func TestASecondApplianceCannotTakeTheSocket(t *testing.T) {
	a := newAppliance(t)
	_, err := admin.Listen(admin.Options{Socket: a.sock, Store: storeport.NewAdmin(a.db, ""), Appliance: a.eng})
	if err == nil || !strings.Contains(err.Error(), "another appliance is answering") {
		t.Fatalf("second listen: %v", err)
	}
	a.ok("status")
}

func TestOutOfServiceStillAnswersStatus(t *testing.T) {
	a := newAppliance(t, func(o *admin.Options) { o.Store = nil }, outOfService("the database does not verify: call IT"))
	st := decode[admin.Status](t, a.ok("status", "--json"))
	if st.Health != "out-of-service" || st.OutOfService != "the database does not verify: call IT" || st.State != "out-of-service" {
		t.Fatalf("status: %+v", st)
	}
	if r := a.ok("status"); !strings.Contains(r.out, "reason:    the database does not verify: call IT") {
		t.Fatalf("status: %s", r)
	}
	a.fails(admin.ExitFailed, "the appliance's database is unavailable, so it is out of service", "users", "list")
}
