package e2e

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"passkiosk/fido/hidtest"
	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
	"passkiosk/kiosk/engine"
	"passkiosk/kiosk/policy"
	"passkiosk/kiosk/session"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/tpm"
	"passkiosk/tpm/swtpm"
)

const terminal = "Ward 7 — bay 2"

// sessionProgram writes files into the person's home, starts a grandchild
// that ignores SIGTERM, and marks itself ready: what a careless session
// leaves behind. $FILES says how many files.
const sessionProgram = `cd "$HOME" || exit 1
seq "${FILES:-100}" | xargs touch
(trap '' TERM; exec sleep 600) &
touch "$HOME/ready"
exec sleep 600`

// view is a published View and when it was published.
type view struct {
	kiosk.View
	at time.Time
}

// rig is the appliance without its window: bbolt on disk, a TPM on a
// swtpm process, isolated sessions of real processes, and optionally
// security keys through libfido2.
type rig struct {
	t       testing.TB
	dir     string
	db      *store.DB
	records *storeport.Records
	tpm     *tpm.TPM
	manager *session.Manager
	bed     *hidtest.Testbed
	keys    *remoteKeys
	e       *engine.Engine
	views   chan view
	last    view
}

type rigOptions struct {
	keys   bool // security keys through libfido2
	files  int  // files the session program writes
	policy func(*policy.Policy)
	// timeouts replaces engine.DefaultTimeouts when set.
	timeouts *engine.Timeouts
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	if !swtpm.Available() {
		t.Skip("swtpm is not installed (make deps installs it)")
	}
	r := &rig{t: t, dir: t.TempDir(), views: make(chan view, 1024)}
	// The session user must reach its workspace by name, as under
	// /var/lib/passkiosk (t.TempDir makes folders of mode 0700).
	for _, d := range []string{filepath.Dir(r.dir), r.dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	r.db, err = store.Open(filepath.Join(r.dir, "passkiosk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.db.Close() })
	r.records = storeport.NewRecords(r.db, terminal)

	r.tpm, err = tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, SwtpmStateDir: filepath.Join(r.dir, "tpm")})
	if err != nil {
		t.Fatalf("TPM on swtpm: %v", err)
	}
	t.Cleanup(func() { r.tpm.Close() })

	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if uid == 0 {
		uid, gid = 65534, 65534 // nobody, as a packaged appliance without its own session user
	}
	journal := storeport.NewJournal(r.db, terminal, session.Record{UID: uid, GID: gid})
	r.manager, err = session.New(session.Config{StateRoot: r.dir, UID: uid, GID: gid, Journal: journal, Grace: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("sessions: %v", err)
	}
	t.Cleanup(func() { r.manager.EndAll(kiosk.EndShutdown) })

	var keys kiosk.RoamingKeys
	if o.keys {
		r.bed = hidtest.New(t)
		r.keys = newRemoteKeys(t, r.bed)
		keys = r.keys
	}

	p := policy.Default()
	files := o.files
	if files == 0 {
		files = 100
	}
	p.Default.Program = []string{"/usr/bin/env", "FILES=" + strconv.Itoa(files), "/bin/sh", "-c", sessionProgram}
	if o.policy != nil {
		o.policy(&p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	timeouts := engine.DefaultTimeouts
	if o.timeouts != nil {
		timeouts = *o.timeouts
	}
	r.e = engine.New(engine.Config{
		Terminal: terminal, Policy: p, Store: r.records, Keys: keys, Platform: tpm.NewPlatform(r.tpm, nil),
		Sessions: &session.Port{Manager: r.manager}, Timeouts: timeouts,
		Publish: func(v kiosk.View) { r.views <- view{v, time.Now()} },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.e.Run(ctx)
	return r
}

// waitFor reads views until ok accepts one. The bound only stops a hung
// test; nothing is measured by it.
func (r *rig) waitFor(what string, ok func(kiosk.View) bool) view {
	r.t.Helper()
	if ok(r.last.View) {
		return r.last
	}
	guard := time.After(60 * time.Second)
	for {
		select {
		case v := <-r.views:
			r.last = v
			if testing.Verbose() {
				r.t.Logf("%s view: %v %v notice %+v", v.at.Format("15:04:05.000"), v.State, v.Prompt, v.Notice)
			}
			if ok(v.View) {
				return v
			}
		case <-guard:
			r.t.Fatalf("never reached %s; last view: state %v prompt %v notice %+v", what, r.last.State, r.last.Prompt, r.last.Notice)
		}
	}
}

func (r *rig) waitPrompt(p kiosk.Prompt) view {
	r.t.Helper()
	return r.waitFor(p.String(), func(v kiosk.View) bool { return v.Prompt == p })
}

func (r *rig) waitNotice(c kiosk.NoticeCode) view {
	r.t.Helper()
	return r.waitFor("a notice", func(v kiosk.View) bool { return v.Notice != nil && v.Notice.Code == c })
}

// person adds someone with a one-time enrollment code, as an
// administrator would.
func (r *rig) person(name, display string, groups ...string) (store.User, string) {
	r.t.Helper()
	u := store.User{ID: []byte("u-" + name), Name: name, DisplayName: display, Groups: groups, State: store.UserActive}
	ch := store.Change{Actor: "it-admin", Terminal: terminal}
	if err := r.db.PutUser(u, ch); err != nil {
		r.t.Fatal(err)
	}
	code, _, err := r.db.IssueEnrollmentCode(u.ID, store.PurposeEnroll, time.Hour, ch)
	if err != nil {
		r.t.Fatal(err)
	}
	return u, code
}

// ready waits until the session program has written its files.
func (r *rig) ready() {
	r.t.Helper()
	for guard := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r.find("ready") != "" {
			return
		}
		if time.Now().After(guard) {
			r.t.Fatal("the session program never got ready")
		}
	}
}

// find returns the path of a file called name under the sessions' state,
// or "".
func (r *rig) find(name string) string {
	var found string
	filepath.WalkDir(filepath.Join(r.dir, "sessions"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// events returns the audit log.
func (r *rig) events() []store.AuditEvent {
	r.t.Helper()
	evs, err := r.db.Events(0, 10000)
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// audited reports whether the audit log holds an entry of the named type
// that match accepts (nil: any), waiting a little for it: the engine
// writes its entries just after it lets go of its lock, so one may land a
// moment after the view that follows it.
func (r *rig) audited(name string, match func(store.AuditEvent) bool) bool {
	for guard := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		for _, e := range r.events() {
			if e.Type.String() == name && (match == nil || match(e)) {
				return true
			}
		}
		if time.Now().After(guard) {
			return false
		}
	}
}

// key is a virtual security key on the umockdev testbed, with a person
// to touch it.
type key struct {
	r   *rig
	k   *softkey.Key
	dev *hidtest.Device
}

func (r *rig) newKey(cfg softkey.Config) *key {
	r.t.Helper()
	k, err := softkey.New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	// Nothing is touched unless the test says so.
	k.SetTouch(softkey.TouchNever, 0)
	return &key{r: r, k: k}
}

// enrollKey registers k, plugged in when asked, with an enrollment code
// and the key's PIN, from the lock screen to "done".
func (r *rig) enrollKey(k *key, code, pin string) {
	r.t.Helper()
	r.waitPrompt(kiosk.PromptTouchOrChoose)
	r.e.StartEnrollment(code)
	r.waitPrompt(kiosk.PromptEnrollChoose)
	r.e.ChooseAttachment(kiosk.AttachRoaming)
	r.waitPrompt(kiosk.PromptInsertKey)
	k.plug()
	r.waitPrompt(kiosk.PromptPIN)
	r.e.EnterPIN([]byte(pin))
	r.waitPrompt(kiosk.PromptTouchKey)
	k.touch()
	r.waitPrompt(kiosk.PromptEnrollDone)
}

func (k *key) plug() {
	k.r.t.Helper()
	d, err := k.r.bed.Plug(k.k.Plug(), hidtest.Identity{})
	if err != nil {
		k.r.t.Fatal(err)
	}
	k.dev = d
}

func (k *key) unplug() { k.dev.Unplug() }

// touch touches the key as soon as it asks for a touch.
func (k *key) touch() {
	k.r.t.Helper()
	for guard := time.Now().Add(30 * time.Second); !k.k.Touch(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(guard) {
			k.r.t.Fatal("the key never asked for a touch")
		}
	}
}
