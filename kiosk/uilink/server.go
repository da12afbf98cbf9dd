package uilink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/peercred"
)

// DefaultSocket is where the daemon listens for its window.
const DefaultSocket = "/run/passkiosk/ui.sock"

// Options configure the daemon's side.
type Options struct {
	// Socket is the Unix socket's path; its folder is made if missing
	// (mode 0755: the socket's mode and the peer check guard it).
	Socket string
	// UID is the window's account, the only one served besides root; -1
	// serves root alone.
	UID int
	// GID, when 0 or more, becomes the socket file's group (mode 0660):
	// the window's account's group, so that no one else can even connect.
	GID int
	// Commands receives what the window asks.
	Commands kiosk.Commands
	Log      *slog.Logger
	// IOTimeout bounds the hello and every write; 0 means 5 s.
	IOTimeout time.Duration
	// Keepalive is how often a side that has sent nothing pings; a side
	// silent for three periods is gone. 0 means 5 s.
	Keepalive time.Duration
	// OnConnect, when set, is called after a window's hello.
	OnConnect func()
	// Hello, when set, says what each window is told at connect.
	Hello func() Hello
}

func (o *Options) fill() {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 5 * time.Second
	}
	if o.Keepalive <= 0 {
		o.Keepalive = 5 * time.Second
	}
}

// Server is the daemon's side: it publishes Views to the one window and
// hands its commands to Options.Commands.
type Server struct {
	opts Options
	ln   *net.UnixListener

	mu     sync.Mutex
	view   kiosk.View
	seq    uint64 // counts Publish calls; a window is up to date at seq
	cur    *serverConn
	nextID uint32
	closed bool
}

// serverConn is one window's connection.
type serverConn struct {
	c      net.Conn
	who    string
	notify chan struct{} // a newer View or a clipboard request waits
	done   chan struct{}
	once   sync.Once

	// Under Server.mu:
	sent  uint64                  // seq of the last View written
	clips []uint32                // requests not yet written
	wait  map[uint32]chan<- error // requests written or queued, by number
}

// NewServer makes a server with no socket, for windows attached with
// Attach (the demo's in-process pair) and for tests.
func NewServer(opts Options) *Server {
	opts.fill()
	return &Server{opts: opts}
}

// Listen creates the socket. A socket file left by a previous run is
// replaced; one that a running daemon still answers on is an error.
func Listen(opts Options) (*Server, error) {
	if opts.Socket == "" || opts.Commands == nil {
		return nil, errors.New("uilink: a socket and commands are required")
	}
	s := NewServer(opts)
	mode := os.FileMode(0o600)
	if opts.GID >= 0 {
		mode = 0o660
	}
	ln, err := peercred.Listen(opts.Socket, mode, opts.GID)
	if err != nil {
		return nil, fmt.Errorf("window socket: %w", err)
	}
	s.ln = ln
	return s, nil
}

// Addr is the socket's path.
func (s *Server) Addr() string { return s.opts.Socket }

// Serve accepts windows until ctx ends or Close.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.opts.Log.Error("window socket", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		who, ok := s.admit(c)
		if !ok {
			c.Close()
			continue
		}
		s.Attach(c, who)
	}
}

// admit checks the peer before anything is read from it.
func (s *Server) admit(c *net.UnixConn) (string, bool) {
	cred, err := peercred.Of(c)
	if err != nil {
		s.opts.Log.Warn("window connection refused: its credentials cannot be read", "err", err)
		return "", false
	}
	who := fmt.Sprintf("uid %d, pid %d", cred.UID, cred.PID)
	if cred.UID != 0 && (s.opts.UID < 0 || cred.UID != s.opts.UID) {
		s.opts.Log.Warn("window connection refused: not the window's account", "peer", who, "want_uid", s.opts.UID)
		return "", false
	}
	return who, true
}

// Attach serves c as the window, replacing the window before it. c's peer
// is trusted: Serve checked it, or it is the other end of an in-process
// pair.
func (s *Server) Attach(c net.Conn, who string) {
	sc := &serverConn{c: c, who: who, notify: make(chan struct{}, 1), done: make(chan struct{}), wait: map[uint32]chan<- error{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	old := s.cur
	s.cur = sc
	s.mu.Unlock()
	if old != nil {
		s.opts.Log.Info("a new window replaces the one before", "old", old.who, "new", who)
		s.drop(old, nil)
	}
	go s.serve(sc)
}

// Publish makes v the current View and wakes the window's writer. It never
// waits for the window.
func (s *Server) Publish(v kiosk.View) {
	s.mu.Lock()
	s.view = v
	s.seq++
	sc := s.cur
	s.mu.Unlock()
	if sc != nil {
		sc.wake()
	}
}

func (sc *serverConn) wake() {
	select {
	case sc.notify <- struct{}{}:
	default:
	}
}

// ClearClipboard asks the window to empty the display's clipboard and
// waits for its answer or ctx. Without a window, or when the window goes
// away meanwhile, there is nothing to clear: a selection lives in the
// client that owns it (X11 and Wayland alike), so the window's went with
// it, and the session's went with the session's processes.
func (s *Server) ClearClipboard(ctx context.Context) error {
	s.mu.Lock()
	sc := s.cur
	if sc == nil {
		s.mu.Unlock()
		return nil
	}
	s.nextID++
	id := s.nextID
	ch := make(chan error, 1)
	sc.wait[id] = ch
	sc.clips = append(sc.clips, id)
	s.mu.Unlock()
	sc.wake()
	select {
	case err := <-ch:
		return err
	case <-sc.done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		delete(sc.wait, id)
		s.mu.Unlock()
		return fmt.Errorf("the window did not empty the clipboard in time: %w", ctx.Err())
	}
}

// Connected says whether a window is attached.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil
}

// Close stops accepting and hangs up on the window.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	sc := s.cur
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	if sc != nil {
		s.drop(sc, nil)
	}
}

// gone says err is the window going away: closed, or killed with bytes
// unread (the kernel then resets the connection) or while it was written
// to.
func gone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// drop ends a connection once, says why, and forgets it.
func (s *Server) drop(sc *serverConn, why error) {
	sc.once.Do(func() {
		sc.c.Close()
		close(sc.done)
		s.mu.Lock()
		if s.cur == sc {
			s.cur = nil
		}
		s.mu.Unlock()
		switch {
		case why == nil:
		case errors.Is(why, errFrame):
			s.opts.Log.Warn("window connection closed: it broke the protocol", "peer", sc.who, "err", why)
		case gone(why):
			s.opts.Log.Info("window disconnected", "peer", sc.who)
		default:
			s.opts.Log.Warn("window connection closed", "peer", sc.who, "err", why)
		}
	})
}

// serve runs one window: hello, then the writer and the command reader.
func (s *Server) serve(sc *serverConn) {
	if err := s.hello(sc); err != nil {
		s.drop(sc, err)
		return
	}
	s.opts.Log.Info("window connected", "peer", sc.who)
	if s.opts.OnConnect != nil {
		s.opts.OnConnect()
	}
	go s.write(sc)
	s.read(sc)
}

func (s *Server) hello(sc *serverConn) error {
	typ, body, err := readFrame(sc.c, MaxCommandFrame, time.Now().Add(s.opts.IOTimeout))
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if typ != msgHello {
		return frameErr("message %d before the hello", typ)
	}
	v, _, err := decodeHello(body)
	if err != nil {
		return err
	}
	if v != Version {
		return frameErr("the window speaks protocol version %d, this daemon %d", v, Version)
	}
	var h Hello
	if s.opts.Hello != nil {
		h = s.opts.Hello()
	}
	return writeFrame(sc.c, s.opts.IOTimeout, msgHello, encodeHello(h))
}

// read hands commands to the engine until the window goes.
func (s *Server) read(sc *serverConn) {
	for {
		typ, body, err := readFrame(sc.c, MaxCommandFrame, time.Now().Add(3*s.opts.Keepalive))
		if err != nil {
			s.drop(sc, err)
			return
		}
		err = s.handle(sc, typ, body)
		// The frame may have held a PIN: zero it before the next read.
		wipe(body)
		if h := testHookWiped.Load(); h != nil {
			(*h)("daemon", body)
		}
		if err != nil {
			s.drop(sc, err)
			return
		}
	}
}

func (s *Server) handle(sc *serverConn, typ byte, body []byte) error {
	switch typ {
	case msgCommand:
		c, err := decodeCommand(body)
		if err != nil {
			return err
		}
		c.apply(s.opts.Commands)
	case msgCleared:
		id, failure, err := decodeCleared(body)
		if err != nil {
			return err
		}
		s.mu.Lock()
		ch := sc.wait[id]
		delete(sc.wait, id)
		s.mu.Unlock()
		if ch != nil {
			if failure != "" {
				ch <- errors.New(failure)
			} else {
				ch <- nil
			}
		}
	case msgPing:
		if len(body) != 0 {
			return frameErr("ping with %d bytes", len(body))
		}
	default:
		return frameErr("message type %d from a window", typ)
	}
	return nil
}

// write sends the newest View the window has not seen, clipboard
// requests, and pings, until the connection ends.
func (s *Server) write(sc *serverConn) {
	ping := time.NewTicker(s.opts.Keepalive)
	defer ping.Stop()
	sc.wake() // the current View, at once
	for {
		select {
		case <-sc.done:
			return
		case <-ping.C:
			if err := writeFrame(sc.c, s.opts.IOTimeout, msgPing, nil); err != nil {
				s.drop(sc, err)
				return
			}
			continue
		case <-sc.notify:
		}
		s.mu.Lock()
		v, seq, fresh := s.view, s.seq, s.seq != sc.sent
		clips := sc.clips
		sc.clips = nil
		s.mu.Unlock()
		if fresh {
			b, err := encodeView(v)
			if err == nil {
				err = writeFrame(sc.c, s.opts.IOTimeout, msgView, b)
			}
			if err != nil {
				s.drop(sc, err)
				return
			}
			s.mu.Lock()
			sc.sent = seq
			s.mu.Unlock()
		}
		for _, id := range clips {
			if err := writeFrame(sc.c, s.opts.IOTimeout, msgClipboard, encodeClipboard(id)); err != nil {
				s.drop(sc, err)
				return
			}
		}
		ping.Reset(s.opts.Keepalive)
	}
}
