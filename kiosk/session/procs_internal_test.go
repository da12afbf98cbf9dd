package session

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

func TestHasEntryMatchesWholeEntriesOnly(t *testing.T) {
	env := []byte("A=1\x00PASSKIOSK_SESSION=abc\x00Z=9")
	for e, want := range map[string]bool{
		"PASSKIOSK_SESSION=abc":  true,
		"PASSKIOSK_SESSION=ab":   false,
		"PASSKIOSK_SESSION=abcd": false,
		"Z=9":                    true,
		"A=1\x00P":               false,
	} {
		if got := hasEntry(env, []byte(e)); got != want {
			t.Errorf("hasEntry(%q) = %v", e, got)
		}
	}
}

// A process may name itself with spaces and parentheses; the stat parser
// must still find the process group.
func TestReadStatSurvivesHostileCommandNames(t *testing.T) {
	dir := t.TempDir()
	exe := dir + "/a) b ("
	if err := os.Link("/bin/sleep", exe); err != nil {
		if err := exec.Command("cp", "/bin/sleep", exe).Run(); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(exe, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	st, ok := readStat(cmd.Process.Pid)
	if !ok || st.comm != "a) b (" || st.ppid != os.Getpid() || st.pgid != syscall.Getpgrp() {
		t.Fatalf("readStat = %+v, %v", st, ok)
	}
}

func TestUnescapeMountAndWithin(t *testing.T) {
	if got := unescapeMount(`/a\040b\011c\134`); got != "/a b\tc\\" {
		t.Errorf("unescape = %q", got)
	}
	for _, c := range []struct {
		p, d string
		want bool
	}{{"/s/x", "/s/x", true}, {"/s/x/y", "/s/x", true}, {"/s/xy", "/s/x", false}, {"/s", "/s/x", false}} {
		if within(c.p, c.d) != c.want {
			t.Errorf("within(%q, %q) = %v", c.p, c.d, !c.want)
		}
	}
}
