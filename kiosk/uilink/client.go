package uilink

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"passkiosk/kiosk"
)

// ClientOptions configure the window's side.
type ClientOptions struct {
	// Dial opens a connection to the daemon; DialSocket(path) for the
	// real socket.
	Dial func(ctx context.Context) (net.Conn, error)
	// Show draws a View; it must not block for long (ui.UI.Show hops
	// onto Fyne's goroutine).
	Show func(kiosk.View)
	// Waiting is called when there is no daemon to talk to (before the
	// first connection and after every loss), with why; the window shows
	// a plain waiting screen, never the last interactive one.
	Waiting func(why string)
	// OnHello is told what the daemon says at connect, before its first
	// View.
	OnHello func(Hello)
	// ClearClipboard empties the display's clipboard when the daemon asks.
	ClearClipboard func(ctx context.Context) error
	Log            *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between dials; 0 means
	// 100 ms and 2 s.
	MinBackoff, MaxBackoff time.Duration
	// IOTimeout and Keepalive as in Options.
	IOTimeout, Keepalive time.Duration
}

// DialSocket dials the daemon's socket.
func DialSocket(path string) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// Client is the window's side: a kiosk.Commands that sends each call to
// the daemon, and Run, which keeps a connection and shows what arrives.
// A command given while no daemon is connected is dropped (its PIN
// zeroed): the window shows the waiting screen then, and the daemon's
// next View says what is true.
type Client struct {
	opts ClientOptions

	mu  sync.Mutex
	out chan command // the current connection's queue; nil when none
}

var _ kiosk.Commands = (*Client)(nil)

// NewClient makes the window's side.
func NewClient(opts ClientOptions) *Client {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Second
	}
	if opts.IOTimeout <= 0 {
		opts.IOTimeout = 5 * time.Second
	}
	if opts.Keepalive <= 0 {
		opts.Keepalive = 5 * time.Second
	}
	for _, f := range []*func(string){&opts.Waiting} {
		if *f == nil {
			*f = func(string) {}
		}
	}
	if opts.OnHello == nil {
		opts.OnHello = func(Hello) {}
	}
	if opts.Show == nil {
		opts.Show = func(kiosk.View) {}
	}
	if opts.ClearClipboard == nil {
		opts.ClearClipboard = func(context.Context) error { return nil }
	}
	return &Client{opts: opts}
}

// Run connects, shows Views and sends commands until ctx ends, dialling
// again with a growing wait (MinBackoff doubling to MaxBackoff) whenever
// the daemon is away. It returns ctx's error.
func (c *Client) Run(ctx context.Context) error {
	wait := c.opts.MinBackoff
	why := "starting"
	for {
		c.opts.Waiting(why)
		conn, err := c.opts.Dial(ctx)
		if err == nil {
			err = c.hello(conn)
			if err != nil {
				conn.Close()
			}
		}
		if err == nil {
			wait = c.opts.MinBackoff
			c.opts.Log.Info("connected to the appliance daemon")
			err = c.serve(ctx, conn)
			c.opts.Log.Warn("lost the appliance daemon", "err", err)
		} else if ctx.Err() == nil {
			c.opts.Log.Debug("appliance daemon not reachable", "err", err, "retry_in", wait)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		why = "waiting for the appliance"
		c.opts.Waiting(why)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, c.opts.MaxBackoff)
	}
}

func (c *Client) hello(conn net.Conn) error {
	if err := writeFrame(conn, c.opts.IOTimeout, msgHello, encodeHello(Hello{})); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	typ, body, err := readFrame(conn, MaxCommandFrame, time.Now().Add(c.opts.IOTimeout))
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if typ != msgHello {
		return frameErr("message %d before the daemon's hello", typ)
	}
	v, h, err := decodeHello(body)
	if err != nil {
		return err
	}
	if v != Version {
		return frameErr("the daemon speaks protocol version %d, this window %d", v, Version)
	}
	c.opts.OnHello(h)
	return nil
}

// serve runs one connection until it fails or ctx ends.
func (c *Client) serve(ctx context.Context, conn net.Conn) error {
	out := make(chan command, 64)
	answers := make(chan []byte, 8)
	done := make(chan struct{})
	var once sync.Once
	var reason error
	stop := func(err error) {
		once.Do(func() {
			reason = err
			close(done)
			conn.Close()
		})
	}
	c.mu.Lock()
	c.out = out
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.out = nil
		c.mu.Unlock()
		// Commands left in the queue are dropped, PINs zeroed.
		for {
			select {
			case cmd := <-out:
				wipe(cmd.pin)
			default:
				return
			}
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			stop(ctx.Err())
		case <-done:
		}
	}()
	go c.write(conn, out, answers, done, stop)
	for {
		typ, body, err := readFrame(conn, MaxViewFrame, time.Now().Add(3*c.opts.Keepalive))
		if err != nil {
			stop(err)
			break
		}
		if err := c.handle(typ, body, answers, done); err != nil {
			stop(err)
			break
		}
	}
	<-done
	return reason
}

func (c *Client) handle(typ byte, body []byte, answers chan<- []byte, done <-chan struct{}) error {
	switch typ {
	case msgView:
		v, err := decodeView(body)
		if err != nil {
			return err
		}
		c.opts.Show(v)
	case msgClipboard:
		id, err := decodeClipboard(body)
		if err != nil {
			return err
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.IOTimeout)
			defer cancel()
			a := encodeCleared(id, c.opts.ClearClipboard(ctx))
			select {
			case answers <- a:
			case <-done:
			}
		}()
	case msgPing:
		if len(body) != 0 {
			return frameErr("ping with %d bytes", len(body))
		}
	default:
		return frameErr("message type %d from the daemon", typ)
	}
	return nil
}

// write sends commands, clipboard answers and pings.
func (c *Client) write(conn net.Conn, out <-chan command, answers <-chan []byte, done <-chan struct{}, stop func(error)) {
	ping := time.NewTicker(c.opts.Keepalive)
	defer ping.Stop()
	for {
		var typ byte
		var body []byte
		select {
		case <-done:
			return
		case <-ping.C:
			typ = msgPing
		case a := <-answers:
			typ, body = msgCleared, a
		case cmd := <-out:
			typ, body = msgCommand, cmd.encode()
			wipe(cmd.pin)
		}
		err := writeFrame(conn, c.opts.IOTimeout, typ, body)
		wipe(body)
		if h := testHookWiped.Load(); h != nil && typ == msgCommand {
			(*h)("window", body)
		}
		if err != nil {
			stop(err)
			return
		}
		ping.Reset(c.opts.Keepalive)
	}
}

// send queues a command for the connected daemon, or drops it.
func (c *Client) send(cmd command) {
	c.mu.Lock()
	out := c.out
	c.mu.Unlock()
	if out == nil {
		wipe(cmd.pin)
		return
	}
	select {
	case out <- cmd:
	default:
		wipe(cmd.pin)
		c.opts.Log.Warn("the daemon is not reading; a command was dropped", "op", int(cmd.op))
	}
}

func (c *Client) ChooseUser(id kiosk.UserID)  { c.send(command{op: opChooseUser, user: id}) }
func (c *Client) TypeUserName(name string)    { c.send(command{op: opTypeUserName, text: name}) }
func (c *Client) UseKey()                     { c.send(command{op: opUseKey}) }
func (c *Client) ChooseAccount(index int)     { c.send(command{op: opChooseAccount, index: index}) }
func (c *Client) Cancel()                     { c.send(command{op: opCancel}) }
func (c *Client) StartEnrollment(code string) { c.send(command{op: opStartEnrollment, text: code}) }
func (c *Client) ChooseAttachment(a kiosk.Attachment) {
	c.send(command{op: opChooseAttachment, att: a})
}
func (c *Client) AddBackup()       { c.send(command{op: opAddBackup}) }
func (c *Client) SignOut()         { c.send(command{op: opSignOut}) }
func (c *Client) StillHere()       { c.send(command{op: opStillHere}) }
func (c *Client) RelaunchProgram() { c.send(command{op: opRelaunchProgram}) }
func (c *Client) Activity()        { c.send(command{op: opActivity}) }

// EnterPIN sends the PIN and zeroes pin, as the engine would: the caller
// gives it up here (kiosk.Commands). The queued copy is zeroed once its
// frame is written, or when it is dropped.
func (c *Client) EnterPIN(pin []byte) {
	cp := make([]byte, len(pin))
	copy(cp, pin)
	wipe(pin)
	c.send(command{op: opEnterPIN, pin: cp})
}
