// Command uidriver drives the installed appliance through its window's
// socket, as the window itself would, for packaging/test-appliance.sh.
//
// Debian 12's cage (0.1.4) offers neither the virtual-keyboard nor the
// virtual-pointer protocol, so nothing can type into the real window under
// it; this program speaks kiosk/uilink to passkioskd instead: it receives
// the Views and sends the Commands a person's taps would. The daemon
// serves one window at a time, so the test stops the real window
// (SIGSTOP) while this runs and lets it reconnect afterwards.
//
//	uidriver [--socket PATH] view
//	uidriver [--socket PATH] enroll CODE PIN
//	uidriver [--socket PATH] signin NAME PIN
//	uidriver [--socket PATH] signout
//
// Each prints the prompts it passed and exits 0 when the daemon's View
// reached the step's end, 1 otherwise.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/uilink"
)

// stepWait bounds each step: a TPM sign-in on swtpm takes milliseconds,
// a session start a second or two.
const stepWait = 30 * time.Second

type driver struct {
	c       *uilink.Client
	mu      sync.Mutex
	view    kiosk.View
	seen    bool
	changed chan struct{}
}

func (d *driver) show(v kiosk.View) {
	d.mu.Lock()
	d.view, d.seen = v, true
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// await waits for a View that ok accepts and returns it.
func (d *driver) await(what string, ok func(kiosk.View) bool) (kiosk.View, error) {
	deadline := time.After(stepWait)
	for {
		d.mu.Lock()
		v, seen := d.view, d.seen
		d.mu.Unlock()
		if seen && ok(v) {
			fmt.Printf("uidriver: %s: state %v, prompt %v\n", what, v.State, v.Prompt)
			return v, nil
		}
		select {
		case <-d.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return v, fmt.Errorf("%s: stuck at state %v, prompt %v, notice %+v", what, v.State, v.Prompt, v.Notice)
		}
	}
}

func prompt(p kiosk.Prompt) func(kiosk.View) bool {
	return func(v kiosk.View) bool { return v.Prompt == p }
}

func (d *driver) enroll(code, pin string) error {
	if _, err := d.await("lock screen", prompt(kiosk.PromptTouchOrChoose)); err != nil {
		return err
	}
	d.c.StartEnrollment(code)
	v, err := d.await("enrollment code taken", func(v kiosk.View) bool {
		return v.Prompt == kiosk.PromptNewPIN || v.Prompt == kiosk.PromptEnrollChoose
	})
	if err != nil {
		return err
	}
	if v.Prompt == kiosk.PromptEnrollChoose {
		d.c.ChooseAttachment(kiosk.AttachPlatform)
		if _, err := d.await("this terminal chosen", prompt(kiosk.PromptNewPIN)); err != nil {
			return err
		}
	}
	d.c.EnterPIN([]byte(pin))
	if _, err := d.await("registered", prompt(kiosk.PromptEnrollDone)); err != nil {
		return err
	}
	d.c.Cancel()
	_, err = d.await("back at the lock screen", prompt(kiosk.PromptTouchOrChoose))
	return err
}

func (d *driver) signIn(name, pin string) error {
	if _, err := d.await("lock screen", prompt(kiosk.PromptTouchOrChoose)); err != nil {
		return err
	}
	d.c.TypeUserName(name)
	if _, err := d.await("asked for the PIN", prompt(kiosk.PromptPIN)); err != nil {
		return err
	}
	d.c.EnterPIN([]byte(pin))
	v, err := d.await("in session", func(v kiosk.View) bool {
		return v.Prompt == kiosk.PromptSession && v.Session != nil && v.Session.ProgramRunning
	})
	if err == nil {
		fmt.Printf("uidriver: session of %s\n", v.Session.DisplayName)
	}
	return err
}

func (d *driver) signOut() error {
	if _, err := d.await("in session", func(v kiosk.View) bool { return v.State == kiosk.StateInSession }); err != nil {
		return err
	}
	d.c.SignOut()
	_, err := d.await("signed out", prompt(kiosk.PromptTouchOrChoose))
	return err
}

func main() {
	socket := flag.String("socket", uilink.DefaultSocket, "the daemon's socket for its window")
	flag.Parse()
	args := flag.Args()
	d := &driver{changed: make(chan struct{}, 1)}
	d.c = uilink.NewClient(uilink.ClientOptions{Dial: uilink.DialSocket(*socket), Show: d.show})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = d.c.Run(ctx)
		close(done)
	}()
	var err error
	switch {
	case len(args) == 1 && args[0] == "view":
		var v kiosk.View
		v, err = d.await("connected", func(kiosk.View) bool { return true })
		if err == nil {
			err = json.NewEncoder(os.Stdout).Encode(v)
		}
	case len(args) == 3 && args[0] == "enroll":
		err = d.enroll(args[1], args[2])
	case len(args) == 3 && args[0] == "signin":
		err = d.signIn(args[1], args[2])
	case len(args) == 1 && args[0] == "signout":
		err = d.signOut()
	default:
		fmt.Fprintln(os.Stderr, "usage: uidriver [--socket PATH] view | enroll CODE PIN | signin NAME PIN | signout")
		os.Exit(2)
	}
	cancel()
	<-done
	if err != nil {
		fmt.Fprintln(os.Stderr, "uidriver:", err)
		os.Exit(1)
	}
}
