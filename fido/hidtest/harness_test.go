package hidtest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/kiosk"
)

func TestMain(m *testing.M) {
	if IsClient() {
		ServeClient(clientHandlers)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runTool(t *testing.T, b *Testbed, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := b.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestFido2TokenListsAndOpensPluggedKey(t *testing.T) {
	b := New(t)
	r := newResponder(0xab)
	dev, err := b.Plug(r, Identity{Product: "hand responder"})
	if err != nil {
		t.Fatal(err)
	}
	before := IoctlCount()
	list := runTool(t, b, "fido2-token", "-L")
	if IoctlCount() < before+2 {
		t.Fatalf("fido2-token -L made %d report-descriptor ioctls through the testbed, want at least 2", IoctlCount()-before)
	}
	if !strings.Contains(list, dev.Path()) || !strings.Contains(list, "hand responder") {
		t.Fatalf("fido2-token -L does not list %s:\n%s", dev.Path(), list)
	}
	info := runTool(t, b, "fido2-token", "-I", dev.Path())
	if !strings.Contains(info, "FIDO_2_0") || !strings.Contains(info, strings.Repeat("ab", 16)) {
		t.Fatalf("fido2-token -I did not read getInfo through the harness:\n%s", info)
	}
	if dev.CommandCount(0x04) == 0 {
		t.Fatal("the harness saw no authenticatorGetInfo request")
	}
}

func TestTwoKeysAndUnplugReplug(t *testing.T) {
	b := New(t)
	one, err := b.Plug(newResponder(0x11), Identity{Product: "key one"})
	if err != nil {
		t.Fatal(err)
	}
	two, err := b.Plug(newResponder(0x22), Identity{Product: "key two"})
	if err != nil {
		t.Fatal(err)
	}
	list := runTool(t, b, "fido2-token", "-L")
	for _, want := range []string{one.Path(), two.Path(), "key one", "key two"} {
		if !strings.Contains(list, want) {
			t.Fatalf("fido2-token -L lacks %q:\n%s", want, list)
		}
	}
	// Each node reaches its own key.
	if info := runTool(t, b, "fido2-token", "-I", two.Path()); !strings.Contains(info, strings.Repeat("22", 16)) {
		t.Fatalf("%s answered with the wrong key:\n%s", two.Path(), info)
	}

	one.Unplug()
	list = runTool(t, b, "fido2-token", "-L")
	if strings.Contains(list, "key one") || !strings.Contains(list, "key two") {
		t.Fatalf("after unplugging key one, fido2-token -L shows:\n%s", list)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := b.Command(ctx, "fido2-token", "-I", one.Path()).CombinedOutput(); err == nil {
		t.Fatalf("fido2-token -I on an unplugged node succeeded:\n%s", out)
	}

	again, err := b.Plug(newResponder(0x33), Identity{Product: "key one"})
	if err != nil {
		t.Fatal(err)
	}
	if info := runTool(t, b, "fido2-token", "-I", again.Path()); !strings.Contains(info, strings.Repeat("33", 16)) {
		t.Fatalf("re-plugged key not reachable:\n%s", info)
	}
}

// TestClientProcessRunsWithPreload proves the re-exec helper: the client
// is this test binary, started with the preload library mapped from its
// first instruction, and errors keep their kind across the pipe.
func TestClientProcessRunsWithPreload(t *testing.T) {
	b := New(t)
	c := b.StartClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got struct {
		Preloaded bool
		Dir       string
	}
	if err := c.Call(ctx, "preload", nil, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Preloaded || got.Dir != b.Root() {
		t.Fatalf("client: preloaded=%v UMOCKDEV_DIR=%q, want true and %q", got.Preloaded, got.Dir, b.Root())
	}
	err := c.Call(ctx, "fail", nil, nil)
	if kiosk.KindOf(err) != kiosk.KindPINInvalid || kiosk.TriesLeft(err) != 5 {
		t.Fatalf("error across the pipe = %v (kind %v, tries %d)", err, kiosk.KindOf(err), kiosk.TriesLeft(err))
	}
	// A cancelled call cancels the handler's context in the client.
	cctx, ccancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, ccancel)
	if err := c.Call(cctx, "block", nil, nil); kiosk.KindOf(err) != kiosk.KindCancelled {
		t.Fatalf("cancelled call = %v, want kind cancelled", err)
	}
}

// TestPullingKeyMidOperationHangsUpTheClient pulls the key while libfido2
// waits for a touch. The client must see an I/O error at once: this broke
// when the pty master leaked into client processes, which kept the node's
// far end open after the pull.
func TestPullingKeyMidOperationHangsUpTheClient(t *testing.T) {
	b := New(t)
	k, d := plugSoftkey(t, b, softkey.Config{})
	k.SetTouch(softkey.TouchNever, 0)
	in := writeLines(t, t.TempDir(), "cred.in", b64(make([]byte, 32)), "kiosk.example", "alice", b64([]byte("uid")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := b.Command(ctx, "fido2-cred", "-M", "-i", in, d.Path(), "es256")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitCommand(ctx, 0x01, 1); err != nil {
		t.Fatal(err)
	}
	d.Unplug()
	err := cmd.Wait()
	if err == nil || ctx.Err() != nil || !strings.Contains(out.String(), "FIDO_ERR_RX") {
		t.Fatalf("fido2-cred after the pull: %v (context: %v)\n%s", err, ctx.Err(), out.String())
	}
}
