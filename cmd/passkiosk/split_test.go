package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The two real programs, built here: passkioskd with its window socket,
// and the full-screen passkiosk (X11 build) in a real window under Xvfb.
// The window reaches the daemon; killed, it leaves the daemon running;
// started again, it reaches it again; the daemon stopped and started
// again, the running window finds the new one by itself.
func TestRealDaemonAndRealWindow(t *testing.T) {
	display := startXvfb(t)
	dir, err := os.MkdirTemp("/tmp", "passkiosk-split-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711)
	build := func(pkg, tags string) string {
		bin := filepath.Join(dir, filepath.Base(pkg))
		out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
		return bin
	}
	daemonBin := build("passkiosk/cmd/passkioskd", "no_animations")
	windowBin := build("passkiosk/cmd/passkiosk", "no_animations,nodemo")
	sock := filepath.Join(dir, "ui.sock")
	cfg := fmt.Sprintf(`terminal = "Split bay"
state_dir = %q
[tpm]
transport = "simulator"
[security_keys]
enabled = false
[session]
sandbox = "none"
user = "nobody"
dedicated_user = false
[admin]
socket = %q
group = "root"
[ui]
socket = %q
user = "nobody"
[display]
wayland_socket = ""
`, filepath.Join(dir, "state"), filepath.Join(dir, "admin.sock"), sock)
	cfgPath := filepath.Join(dir, "passkiosk.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var lines []string
	// run starts a program whose log lines are collected.
	run := func(name string, cmd *exec.Cmd) *exec.Cmd {
		out, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				mu.Lock()
				lines = append(lines, name+": "+s.Text())
				mu.Unlock()
			}
		}()
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	count := func(s string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range lines {
			if strings.Contains(l, s) {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); count(what) < n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no %d× %q; log:\n%s", n, what, strings.Join(lines, "\n"))
			}
		}
	}
	startDaemon := func() *exec.Cmd {
		return run("daemon", exec.Command(daemonBin, "--config", cfgPath))
	}
	startWindow := func() *exec.Cmd {
		w := exec.Command(windowBin, "--socket", sock)
		w.Env = append(os.Environ(), "DISPLAY="+display, "LANG=en_US.UTF-8")
		return run("window", w)
	}

	d := startDaemon()
	started := time.Now()
	w := startWindow()
	waitFor(`msg="connected to the appliance daemon"`, 1)
	t.Logf("window start to connected: %v", time.Since(started).Round(time.Millisecond))

	w.Process.Kill()
	w.Wait()
	waitFor(`msg="window disconnected"`, 1)
	if err := d.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the daemon died with the window: %v", err)
	}
	startWindow()
	waitFor(`msg="connected to the appliance daemon"`, 2)

	d.Process.Signal(syscall.SIGTERM)
	d.Wait()
	waitFor(`msg="lost the appliance daemon"`, 1)
	startDaemon()
	waitFor(`msg="connected to the appliance daemon"`, 3)
}
