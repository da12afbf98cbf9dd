package session_test

import (
	"passkiosk/kiosk"

	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// Uids the tests run sessions as. testUID has no passwd entry and no other
// process on the machine runs as it, so the tests can find every process a
// session left by uid alone, independently of how the package looks for
// them. nobodyUID is the shared nobody account.
const (
	testUID   = 61234
	nobodyUID = 65534
)

// workload writes a known set of files into HOME and TMPDIR, then starts
// grandchildren: a plain child, one that calls setsid (leaving the process
// group), one that ignores SIGTERM (as do the sleeps it starts, since an
// ignored signal stays ignored across exec), and, when escape is set, one
// that also clears its environment and leaves the workspace, so that only
// a PID namespace or a dedicated uid can find it. It prints "ready" once
// they all run and then waits.
func workload(escape bool) []string {
	esc := ""
	if escape {
		esc = `(cd / && exec setsid env -i /bin/sleep 301) &`
	}
	script := `
mkdir -p "$HOME/docs" "$TMPDIR/cache"
i=0
while [ $i -lt 50 ]; do echo "secret $i" > "$HOME/docs/f$i"; i=$((i+1)); done
echo tmp > "$TMPDIR/cache/t"
sleep 300 &
setsid sh -c 'echo > "$HOME/setsid.up"; exec sleep 302' &
sh -c 'trap "" TERM; echo > "$HOME/trap.up"; while :; do sleep 1; done' &
` + esc + `
while [ ! -e "$HOME/setsid.up" ] || [ ! -e "$HOME/trap.up" ]; do sleep 0.01; done
echo ready
wait
`
	return []string{"/bin/sh", "-c", script}
}

// The files workload writes: 50 docs, the cache file and two flags, in
// three folders (docs, tmp's cache and tmp itself, which the package
// creates).
const (
	workloadFiles = 53
	workloadDirs  = 3
)

func workloadBytes() int64 {
	var n int64
	for i := 0; i < 50; i++ {
		n += int64(len("secret " + strconv.Itoa(i) + "\n"))
	}
	return n + int64(len("tmp\n")) + 2
}

// newManager builds a Manager on a fresh state root with a memory journal.
func newManager(t testing.TB, sb session.Sandbox, uid uint32, mod func(*session.Config)) (*session.Manager, *sessiontest.MemJournal) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("session tests need root: they run sessions as other uids and mount tmpfs")
	}
	reapTestUID(t)
	j := sessiontest.NewMemJournal()
	cfg := session.Config{
		StateRoot: stateRoot(t), Sandbox: sb, UID: uid, GID: uid, Journal: j,
		Grace: 300 * time.Millisecond, KillTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, why := m.Sandbox(); sb != session.SandboxAuto && got != sb {
		t.Fatalf("sandbox = %v (%s), want %v", got, why, sb)
	}
	return m, j
}

// reapTestUID kills processes of testUID that an aborted earlier run left
// behind, so that the census of this run counts only its own. testUID is
// private to these tests.
func reapTestUID(t testing.TB) {
	for _, p := range procsOfUID(testUID) {
		t.Logf("killing %d (%s), left by an earlier run", p.pid, p.comm)
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// stateRoot returns a fresh state root the session uid can traverse, as
// /var/lib/passkiosk is in production (t.TempDir makes mode 0700 folders).
func stateRoot(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startWaitReady starts spec with a pipe on stdout and waits (bounded) for
// the program to print "ready".
func startWaitReady(t testing.TB, m *session.Manager, spec session.Spec) *session.Session {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	spec.Stdout = w
	s, err := m.Start(t.Context(), spec)
	w.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := readLine(r, "ready", 20*time.Second); err != nil {
		s.End(kiosk.EndLogout)
		t.Fatalf("session program: %v", err)
	}
	return s
}

func readLine(r *os.File, want string, timeout time.Duration) error {
	_ = r.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != want {
		return errors.New("got " + strconv.Quote(line) + ", want " + want)
	}
	return nil
}

// liveProc is a process the test saw, with its start time so that a
// reused pid is not mistaken for a survivor.
type liveProc struct {
	pid   int
	start string
	comm  string
}

// procsWhere scans /proc on its own (not with the package's code) for
// processes that are not zombies and satisfy keep.
func procsWhere(keep func(pid int, status, environ []byte) bool) []liveProc {
	ents, _ := os.ReadDir("/proc")
	var out []liveProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := "/proc/" + e.Name()
		st, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue
		}
		end := bytes.LastIndexByte(st, ')')
		f := strings.Fields(string(st[end+2:]))
		if f[0] == "Z" || f[0] == "X" {
			continue // dead, waiting to be reaped: holds nothing
		}
		status, _ := os.ReadFile(dir + "/status")
		environ, _ := os.ReadFile(dir + "/environ")
		if keep(pid, status, environ) {
			out = append(out, liveProc{pid: pid, start: f[19], comm: string(st[bytes.IndexByte(st, '(')+1 : end])})
		}
	}
	return out
}

func procsOfUID(uid int) []liveProc {
	want := strconv.Itoa(uid)
	return procsWhere(func(_ int, status, _ []byte) bool {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				return strings.Fields(rest)[0] == want
			}
		}
		return false
	})
}

func procsWithEnv(entry string) []liveProc {
	return procsWhere(func(_ int, _, environ []byte) bool {
		for _, e := range bytes.Split(environ, []byte{0}) {
			if string(e) == entry {
				return true
			}
		}
		return false
	})
}

// stillAlive returns those of ps that still run (same pid, same start
// time, not a zombie).
func stillAlive(ps []liveProc) []liveProc {
	var out []liveProc
	for _, p := range ps {
		for _, q := range procsWhere(func(pid int, _, _ []byte) bool { return pid == p.pid }) {
			if q.start == p.start {
				out = append(out, p)
			}
		}
	}
	return out
}

// waitProcs polls (bounded) until f returns at least n processes.
func waitProcs(t testing.TB, n int, f func() []liveProc) []liveProc {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := f()
		if len(ps) >= n {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %d session processes, want at least %d: %v", len(ps), n, ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mountedAt reports whether path is a mount point, read independently of
// the package from /proc/self/mountinfo.
func mountedAt(path string) (fstype string, ok bool) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == path {
			for i, x := range f {
				if x == "-" && i+1 < len(f) {
					return f[i+1], true
				}
			}
			return "", true
		}
	}
	return "", false
}

func assertGone(t testing.TB, ws string) {
	t.Helper()
	if _, err := os.Lstat(ws); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace %s still there (lstat: %v)", ws, err)
	}
	if _, ok := mountedAt(ws); ok {
		t.Errorf("workspace %s still mounted", ws)
	}
}
