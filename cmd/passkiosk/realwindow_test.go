package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"passkiosk/kiosk"
	"passkiosk/ui"
)

// Tests that need Fyne's real (GL) driver re-run this test binary as a
// child, because Fyne's window loop must own the main goroutine, which
// only TestMain has. windowChildEnv names the walk the child runs; the
// parent starts Xvfb and reads what the child measures from its stdout.
//
// Only the real driver shows some leaks: Fyne's test driver paints no
// textures and loads no font faces for themed scopes, so a screen that
// leaks under the GL driver can be flat under the test driver.
const windowChildEnv = "PASSKIOSK_WINDOW_CHILD"

// startXvfb starts a virtual X server on a free display for the test and
// returns the display name. Without the Xvfb binary the test is skipped.
func startXvfb(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("no Xvfb binary (Debian package xvfb): the real-window test needs a virtual X server")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd: Xvfb picks a free display and writes its number once it
	// accepts connections, so no fixed number can collide with another
	// X server on the machine.
	x := exec.Command(bin, "-displayfd", "3", "-screen", "0", "1920x1080x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	x.Stderr = io.Discard
	if err := x.Start(); err != nil {
		w.Close()
		t.Fatalf("Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		x.Process.Kill()
		x.Wait()
	})
	num := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		s.Scan()
		num <- strings.TrimSpace(s.Text())
	}()
	select {
	case n := <-num:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb did not say which display it took (%q)", n)
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		t.Fatal("Xvfb did not start within 30 s")
	}
	return ""
}

// runWindowChild runs this test binary as a child doing walk in a real
// window on display, and hands each line it prints to line as it comes.
func runWindowChild(t testing.TB, display, walk string, env []string, line func(string)) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), windowChildEnv+"="+walk, "DISPLAY="+display, "LANG=en_US.UTF-8")
	child.Env = append(child.Env, env...)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(out)
	for s.Scan() {
		line(s.Text())
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("the %s walk in a real window failed: %v", walk, err)
	}
}

// windowChild runs a walk in a real window; it is the child's whole life.
func windowChild(walk string) int {
	switch walk {
	case "screens":
		return inWindow(func(win fyne.Window) error { return walkScreens(win) })
	case "soak":
		return soakChild()
	}
	fmt.Fprintf(os.Stderr, "unknown walk %q\n", walk)
	return 2
}

// inWindow opens the kiosk window as runWindow does, runs walk on a
// goroutine of its own, and quits when it returns.
func inWindow(walk func(fyne.Window) error) int {
	fa := app.NewWithID("passkiosk")
	fa.Settings().SetTheme(ui.Theme())
	win := fa.NewWindow("passkiosk")
	win.Resize(fyne.NewSize(1280, 800))
	code := 0
	go func() {
		if err := walk(win); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		fyne.Do(fa.Quit)
	}()
	win.ShowAndRun()
	return code
}

// memory is what a walk measures, after a GC.
type memory struct {
	heapMB     float64 // live heap
	goMiB      int     // what the Go runtime holds from the system and has not given back
	goroutines int
}

func measure() memory {
	// Two cycles: finalizers queued by the first free more in the second.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{heapMB: float64(ms.HeapAlloc) / 1e6, goMiB: int((ms.Sys - ms.HeapReleased) >> 20), goroutines: runtime.NumGoroutine()}
}

// noCommands is a kiosk.Commands that does nothing: the screens walk
// shows Views itself.
type noCommands struct{}

func (noCommands) ChooseUser(kiosk.UserID)           {}
func (noCommands) TypeUserName(string)               {}
func (noCommands) EnterPIN(pin []byte)               { clear(pin) }
func (noCommands) UseKey()                           {}
func (noCommands) ChooseAccount(int)                 {}
func (noCommands) Cancel()                           {}
func (noCommands) StartEnrollment(string)            {}
func (noCommands) ChooseAttachment(kiosk.Attachment) {}
func (noCommands) AddBackup()                        {}
func (noCommands) SignOut()                          {}
func (noCommands) StillHere()                        {}
func (noCommands) RelaunchProgram()                  {}
func (noCommands) Activity()                         {}

// Leak bounds for the screens walk: bounds on growth, not timings.
// Fyne keeps what a replaced screen drew (renderers, icons, text
// textures) until it has not been drawn for FYNE_CACHE (a minute unless
// set), and cleans at most every 10 s, so the heap saws up and down
// while screens change. The walk sets FYNE_CACHE to 2 s so that several
// cleanings fall in it, and the test compares the heap's low points, in
// the first and the second half: what is never given back raises them.
// The PIN pad leak this guards against grew the heap by about 60 MB per
// PIN pad shown.
const (
	screensRounds       = 30
	screensHeapGrowthMB = 8
	screensGoroutines   = 8
)

// walkScreens shows every kind of screen in turn, a PIN pad with digits
// typed on it three times a round, and measures after each round. It
// stops early when the heap has clearly outgrown the bound, so a leak
// fails the test without taking the machine's memory.
func walkScreens(win fyne.Window) error {
	u, err := ui.New(win, noCommands{}, ui.Options{Language: "en"})
	if err != nil {
		return err
	}
	now := time.Now()
	lock := kiosk.View{State: kiosk.StateLocked, Prompt: kiosk.PromptTouchOrChoose, Terminal: "Ward 4B",
		PlatformAvailable: true, PINMinLength: 4,
		Tiles: []kiosk.Tile{{User: "u-alice", DisplayName: "Alice Nguyen"}, {User: "u-bob", DisplayName: "Bob Schmidt"}}}
	verifying := func(p kiosk.Prompt, n *kiosk.Notice) kiosk.View {
		return kiosk.View{State: kiosk.StateVerifying, Prompt: p, Terminal: "Ward 4B", Who: "Alice Nguyen",
			PlatformAvailable: true, PINMinLength: 4, Deadline: now.Add(time.Minute), Notice: n}
	}
	enrolling := func(p kiosk.Prompt) kiosk.View {
		v := verifying(p, nil)
		v.State = kiosk.StateEnrolling
		return v
	}
	session := &kiosk.SessionView{User: "u-alice", DisplayName: "Alice Nguyen", Started: now,
		EndsAt: now.Add(8 * time.Hour), ProgramRunning: true, BackupMissing: true}
	inSession := func(p kiosk.Prompt) kiosk.View {
		s := *session
		if p == kiosk.PromptIdleWarning {
			s.IdleEndsAt = now.Add(time.Minute)
		}
		return kiosk.View{State: kiosk.StateInSession, Prompt: p, Terminal: "Ward 4B", Who: "Alice Nguyen", Session: &s}
	}
	ended := lock
	ended.Notice = &kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Detail: "signed out"}
	type step struct {
		v     kiosk.View
		typed string // typed on the focused PIN pad or entry
	}
	steps := []step{
		{v: lock},
		{v: verifying(kiosk.PromptPIN, nil), typed: "0000"},
		{v: verifying(kiosk.PromptPIN, &kiosk.Notice{Code: kiosk.NoticeWrongPIN, Tries: 2}), typed: "135790"},
		{v: verifying(kiosk.PromptWorking, nil)},
		{v: inSession(kiosk.PromptSession)},
		{v: inSession(kiosk.PromptIdleWarning)},
		{v: kiosk.View{State: kiosk.StateEnding, Prompt: kiosk.PromptWorking, Terminal: "Ward 4B"}},
		{v: ended},
		{v: verifying(kiosk.PromptChooseAccount, nil)},
		{v: verifying(kiosk.PromptFingerprint, nil)},
		{v: verifying(kiosk.PromptTouchKey, nil)},
		{v: kiosk.View{State: kiosk.StateLocked, Prompt: kiosk.PromptEnrollCode, Terminal: "Ward 4B"}, typed: "ABCD-EFGH"},
		{v: enrolling(kiosk.PromptEnrollChoose)},
		{v: enrolling(kiosk.PromptNewPIN), typed: "246810"},
		{v: enrolling(kiosk.PromptInsertKey)},
		{v: enrolling(kiosk.PromptEnrollDone)},
	}
	steps[8].v.Accounts = []kiosk.Account{{Index: 0, DisplayName: "Alice Nguyen", Name: "alice"}, {Index: 1, DisplayName: "Alice (admin)", Name: "alice-admin"}}

	var start memory
	for round := 0; round <= screensRounds; round++ {
		for _, s := range steps {
			u.Show(s.v)
			for _, r := range s.typed {
				fyne.DoAndWait(func() {
					if f := win.Canvas().Focused(); f != nil {
						f.TypedRune(r)
					}
				})
			}
			// Let the window's loop paint the screen: the leak this
			// guards against happened while painting.
			fyne.DoAndWait(func() {})
			time.Sleep(40 * time.Millisecond)
		}
		m := measure()
		if round == 0 {
			start = m
			writeHeapProfile("start")
		}
		fmt.Printf("window: round=%d heap_mb=%.1f goroutines=%d\n", round, m.heapMB, m.goroutines)
		if m.heapMB-start.heapMB > 10*screensHeapGrowthMB {
			break // the parent fails the test on the numbers
		}
	}
	writeHeapProfile("end")
	return nil
}

// profileDirEnv, when set, names a folder where walks write heap
// profiles (heap-start.pb.gz, heap-end.pb.gz) to read with go tool pprof.
const profileDirEnv = "PASSKIOSK_HEAP_PROFILES"

func writeHeapProfile(name string) {
	dir := os.Getenv(profileDirEnv)
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, "heap-"+name+".pb.gz"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// The screens, PIN pads among them, shown and replaced in a real window
// under Xvfb dozens of times: the live heap and the goroutines stay flat.
func TestRealWindowHeapAndGoroutinesStayFlat(t *testing.T) {
	display := startXvfb(t)
	var rounds []memory
	runWindowChild(t, display, "screens", []string{"FYNE_CACHE=2s"}, func(l string) {
		var round int
		var m memory
		if _, err := fmt.Sscanf(l, "window: round=%d heap_mb=%f goroutines=%d", &round, &m.heapMB, &m.goroutines); err == nil {
			rounds = append(rounds, m)
			t.Log(l)
		}
	})
	if len(rounds) < 2 {
		t.Fatalf("the child measured %d rounds", len(rounds))
	}
	half := len(rounds) / 2
	low1, low2 := lowestHeap(rounds[:half]), lowestHeap(rounds[half:])
	if g := low2 - low1; g > screensHeapGrowthMB {
		t.Errorf("the live heap's low point grew %.1f MB (%.1f → %.1f) over %d rounds of screens; the bound is %d MB",
			g, low1, low2, len(rounds)-1, screensHeapGrowthMB)
	}
	first, last := rounds[0], rounds[len(rounds)-1]
	if g := last.goroutines - first.goroutines; g > screensGoroutines {
		t.Errorf("goroutines grew by %d (%d → %d) over %d rounds of screens; the bound is %d",
			g, first.goroutines, last.goroutines, len(rounds)-1, screensGoroutines)
	}
	if len(rounds) < screensRounds+1 && !t.Failed() {
		t.Errorf("the walk stopped after %d rounds of %d", len(rounds)-1, screensRounds)
	}
}

func lowestHeap(ms []memory) float64 {
	low := ms[0].heapMB
	for _, m := range ms[1:] {
		low = min(low, m.heapMB)
	}
	return low
}
