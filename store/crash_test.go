package store_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

// crashWriter is the child of TestCrashSafety: it writes sign-ins, events,
// sessions, failures and prunes as fast as it can and reports each one on
// stdout only after the call that committed it returned. Each report is one
// write(2) of less than PIPE_BUF bytes, so the parent never sees half a line.
func crashWriter(path string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "crash-writer: %v\n", err)
		return 1
	}
	db, err := store.Open(path, store.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return fail(err)
	}
	report := func(format string, args ...any) {
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	report("open")
	const users = 3
	for i := 0; i < users; i++ {
		u := storetest.User(fmt.Sprintf("user-%d", i))
		if _, err := db.User(u.ID); kiosk.KindOf(err) == kiosk.KindNotFound {
			if err := db.PutUser(u, store.Change{Actor: "crash-test"}); err != nil {
				return fail(err)
			}
			report("user %d", i)
		}
		key := storetest.Roaming(fmt.Sprintf("key-%d", i), string(u.ID))
		if _, err := db.CredentialByID(key.ID); kiosk.KindOf(err) == kiosk.KindNotFound {
			if err := db.AddCredential(key, store.Change{}); err != nil {
				return fail(err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	for n := 0; ; n++ {
		i := rng.IntN(users)
		switch op := rng.IntN(10); {
		case op < 5:
			c, err := db.CredentialByID([]byte(fmt.Sprintf("key-%d", i)))
			if err != nil {
				return fail(err)
			}
			_, seq, err := db.RecordSignIn(store.SignIn{CredentialID: c.ID, Counter: c.Counter + 1, Terminal: "t1"})
			if err != nil {
				return fail(err)
			}
			report("signin %d %d %d", i, c.Counter+1, seq)
		case op < 7:
			s, err := db.OpenSession(store.Session{UserID: []byte(fmt.Sprintf("user-%d", i)), Workspace: fmt.Sprintf("/run/s/%d", n)})
			if err != nil {
				return fail(err)
			}
			report("session %d", s.ID)
			if _, err := db.EndSession(s.ID, kiosk.EndLogout, true, time.Time{}); err != nil {
				return fail(err)
			}
			report("ended %d", s.ID)
		case op < 8:
			seq, err := db.Append(store.AuditEvent{Type: kiosk.EventSignInFailed, UserID: []byte(fmt.Sprintf("user-%d", i)), Terminal: "t1", Reason: kiosk.KindPINInvalid})
			if err != nil {
				return fail(err)
			}
			report("event %d %d", seq, kiosk.EventSignInFailed)
		case op < 9:
			items := make([]string, 1+rng.IntN(40))
			for j := range items {
				items[j] = fmt.Sprintf("/run/s/%d/file-%d", n, j)
			}
			seq, err := db.Append(store.AuditEvent{Type: kiosk.EventWipe, Items: items})
			if err != nil {
				return fail(err)
			}
			report("event %d %d", seq, kiosk.EventWipe)
		default:
			if _, err := db.Prune(store.Retention{MaxEntries: 150}, time.Time{}); err != nil {
				return fail(err)
			}
			report("pruned")
		}
	}
}

// TestCrashSafety kills a writer with SIGKILL at random points, many times
// over, on one file. After every kill the file must open (Open's full check
// included), every write the child reported as committed must be there, and
// the audit chain must verify. PASSKIOSK_CRASH_ITERATIONS sets the number of
// kills (default 200).
func TestCrashSafety(t *testing.T) {
	iterations := 200
	if testing.Short() || raceBuild {
		iterations = 20
	}
	if s := os.Getenv("PASSKIOSK_CRASH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PASSKIOSK_CRASH_ITERATIONS=%q", s)
		}
		iterations = n
	}
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	rng := rand.New(rand.NewPCG(1, 2))
	counters := map[int]uint32{} // highest counter reported per key
	events := map[uint64]kiosk.Event{}
	ended := map[uint64]bool{}
	users := map[int]bool{}
	var commits, beforeOpen, prunes int
	for it := 0; it < iterations; it++ {
		cmd, out, _ := child(t, "crash-writer", path)
		// Most kills land while the child writes; some land while it
		// starts, opens, checks or creates the file.
		early := rng.IntN(5) == 0
		if !early {
			line, err := readLine(out, 30*time.Second)
			if err != nil || line != "open\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("iteration %d: child did not open the store: %q, %v", it, line, err)
			}
		}
		time.Sleep(time.Duration(rng.IntN(40000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Everything the child wrote before it died is still in the pipe.
		for {
			line, err := readLine(out, 10*time.Second)
			if err != nil {
				break
			}
			commits++
			f := strings.Fields(line)
			num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
			switch f[0] {
			case "signin":
				counters[int(num(1))] = max(counters[int(num(1))], uint32(num(2)))
				events[num(3)] = kiosk.EventSignIn
			case "event":
				events[num(1)] = kiosk.Event(num(2))
			case "ended":
				ended[num(1)] = true
			case "user":
				users[int(num(1))] = true
			case "pruned":
				prunes++
			}
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("iteration %d: child ended with %v, not by the kill", it, err)
		}
		if _, err := os.Stat(path); os.IsNotExist(err) {
			beforeOpen++
			continue // killed before the first store was published
		}
		checkAfterCrash(t, it, path, counters, events, ended, users)
	}
	t.Logf("%d kills, %d committed writes reported and found (%d prunes), %d kills before the file existed", iterations, commits, prunes, beforeOpen)
	if iterations >= 100 && prunes == 0 {
		t.Error("no prune ran between kills: the anchor was never exercised")
	}
}

// TestCrashDuringFirstStart kills the writer while it creates a new store.
// Whatever moment the kill hit, the next Open must succeed: either the
// store was published whole or it was not there yet.
func TestCrashDuringFirstStart(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	rng := rand.New(rand.NewPCG(3, 4))
	published := 0
	for r := 0; r < rounds; r++ {
		path := filepath.Join(t.TempDir(), "passkiosk.db")
		cmd, out, _ := child(t, "crash-writer", path)
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for {
			if _, err := readLine(out, 10*time.Second); err != nil {
				break
			}
		}
		cmd.Wait()
		if _, err := os.Stat(path); err == nil {
			published++
		}
		db, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatalf("round %d: open after a kill during first start: %v", r, err)
		}
		if _, err := db.VerifyChain(); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		db.Close()
	}
	t.Logf("%d rounds, %d killed after the store was published", rounds, published)
}

func checkAfterCrash(t *testing.T, it int, path string, counters map[int]uint32, events map[uint64]kiosk.Event, ended map[uint64]bool, users map[int]bool) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("iteration %d: open after kill: %v", it, err)
	}
	defer db.Close()
	st, err := db.VerifyChain()
	if err != nil {
		t.Fatalf("iteration %d: %v", it, err)
	}
	for i := range users {
		if _, err := db.User([]byte(fmt.Sprintf("user-%d", i))); err != nil {
			t.Fatalf("iteration %d: reported user %d: %v", it, i, err)
		}
	}
	for i, want := range counters {
		c, err := db.CredentialByID([]byte(fmt.Sprintf("key-%d", i)))
		if err != nil || c.Counter < want {
			t.Fatalf("iteration %d: key-%d counter %v, reported %d committed (%v)", it, i, c, want, err)
		}
	}
	for seq, typ := range events {
		if seq <= st.Anchor {
			delete(events, seq) // pruned since, with the chain anchored past it
			continue
		}
		evs, err := db.Events(seq, 1)
		if err != nil || len(evs) != 1 || evs[0].Seq != seq || evs[0].Type != typ {
			t.Fatalf("iteration %d: reported %s at %d, found %+v (%v)", it, typ, seq, evs, err)
		}
	}
	for id := range ended {
		s, err := db.Session(id)
		if err != nil || s.EndedAt.IsZero() {
			t.Fatalf("iteration %d: session %d reported ended: %+v, %v", it, id, s, err)
		}
	}
}
