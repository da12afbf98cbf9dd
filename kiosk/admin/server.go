package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/peercred"
	"passkiosk/kiosk/policy"
)

// Options configure the admin server.
type Options struct {
	// Socket is the Unix socket's path; its directory is created if
	// missing (mode 0755: the socket's own mode and the peer check guard
	// it).
	Socket string
	// AdminGroup's members may use the socket besides root.
	AdminGroup string
	// SocketMode is the socket file's mode; 0 means 0660 (root and the
	// admin group). File modes are only the first fence: every
	// connection's peer is checked whatever the mode.
	SocketMode os.FileMode

	// Store is the appliance's records; nil when the database did not
	// open (the appliance is out of service): status still answers, with
	// the engine's reason, and every other command says the records are
	// unavailable.
	Store     Store
	Appliance Appliance
	// Keys lists plugged-in security keys; nil when keys are off.
	Keys func() []kiosk.KeyInfo
	// Isolation describes the sessions' sandbox and idle sources; nil
	// when sessions could not be set up.
	Isolation func() Isolation
	// TPM is the TPM's lockout state and reset (tpm.go); nil without a
	// usable TPM.
	TPM TPM
	// OnPolicy, when set, is called with every newly applied policy so
	// the engine enforces it from then on.
	OnPolicy func(policy.Policy)
	// OnPeople, when set, is called after a command changed people or
	// their credentials (disabled, enabled, removed, edited, revoked).
	OnPeople func()
	// Fleet, when set, says where the terminal stands with its fleet's
	// directory (status).
	Fleet func() FleetStatus

	Version  string
	Terminal string
	Log      *slog.Logger
	// FollowPoll is how often audit follow looks for new entries; 0 means
	// 250 ms.
	FollowPoll time.Duration
	// MaxConns bounds connections served at once; 0 means 16. Each uid
	// other than root may hold a quarter of them, and together they
	// leave root a quarter.
	MaxConns int
	// IOTimeout bounds reading the request and writing each response;
	// 0 means 10 s.
	IOTimeout time.Duration
}

// Server serves the admin API on a Unix socket.
type Server struct {
	opts Options
	ln   *net.UnixListener
	gid  int
	// slots bounds the connections served at once (MaxConns), with a
	// share per uid.
	slots *slots
	// follows bounds audit follow streams, which last as long as their
	// client wants and so do not hold one of the MaxConns slots.
	follows chan struct{}
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	// applyMu serialises policy applies, so a diff shown is the diff
	// stored.
	applyMu sync.Mutex
}

// Listen creates the socket. A socket file left by a previous run is
// replaced; one that a running appliance still answers on is a
// kiosk.KindConflict error.
func Listen(opts Options) (*Server, error) {
	const op = "admin listen"
	if opts.Appliance == nil || opts.Socket == "" {
		return nil, kiosk.Errorf(kiosk.KindMalformed, op, "socket and appliance are required")
	}
	if opts.Store == nil {
		opts.Store = unavailable{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.SocketMode == 0 {
		opts.SocketMode = 0o660
	}
	if opts.FollowPoll <= 0 {
		opts.FollowPoll = 250 * time.Millisecond
	}
	if opts.IOTimeout <= 0 {
		opts.IOTimeout = deadline
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	gid := -1
	if g, err := user.LookupGroup(opts.AdminGroup); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	} else if opts.AdminGroup != "" {
		opts.Log.Warn("admin group does not exist: only root may use the admin socket", "group", opts.AdminGroup)
	}
	group := -1
	if gid >= 0 && os.Geteuid() == 0 {
		group = gid
	}
	ln, err := peercred.Listen(opts.Socket, opts.SocketMode, group)
	switch {
	case errors.Is(err, peercred.ErrInUse):
		return nil, kiosk.Errorf(kiosk.KindConflict, op, "another appliance is answering on %s", opts.Socket)
	case err != nil:
		return nil, kiosk.E(kiosk.KindConflict, op, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, ln: ln, gid: gid, slots: newSlots(opts.MaxConns), follows: make(chan struct{}, opts.MaxConns), ctx: ctx, cancel: cancel}, nil
}

// Serve accepts connections until Close or ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return kiosk.E(kiosk.KindUnknown, "admin accept", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.admit(conn)
		}()
	}
}

// admit checks the peer, then takes one of its slots and serves the
// connection. The peer comes first: a caller who may not administer the
// appliance is told so and hung up on at once, without reading what it
// sends, so it never holds a slot others need.
func (s *Server) admit(conn *net.UnixConn) {
	peer, err := peerOf(conn)
	if err != nil {
		s.opts.Log.Warn("admin: cannot identify peer", "err", err)
		s.reply(conn, Response{Error: refused("cannot identify the calling process: %v", err)})
		return
	}
	if !access(peer, s.gid) {
		s.opts.Log.Warn("admin: refused", "peer", peer.String())
		// Hanging up with the request unread is fine: the kernel hands
		// the client this answer before it reports the reset.
		s.reply(conn, Response{Error: refused("%s may not administer this appliance: only root and members of group %q may; ask IT to add you to the group", peer, s.opts.AdminGroup)})
		return
	}
	release, ok := s.slots.take(peer.UID)
	if !ok {
		// Too many at once from this caller, or in all: say so rather
		// than queue without bound.
		s.opts.Log.Debug("admin: busy", "peer", peer.String())
		s.reply(conn, Response{Error: busy()})
		return
	}
	defer release()
	s.serveConn(conn, peer, release)
}

// busy is the answer to a caller over its share of the slots.
func busy() *Error {
	return &Error{Code: ExitFailed, Kind: kiosk.KindDeviceBusy.String(), Message: "the appliance is busy with other admin requests; try again"}
}

// Close stops accepting, ends streams, waits for connections and
// removes the socket.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.Close()
	os.Remove(s.opts.Socket)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Addr is the socket's path.
func (s *Server) Addr() string { return s.opts.Socket }

func (s *Server) serveConn(conn *net.UnixConn, peer Peer, release func()) {
	conn.SetReadDeadline(time.Now().Add(s.opts.IOTimeout))
	line, err := readLine(bufio.NewReaderSize(conn, 64<<10))
	if err != nil {
		var we *Error
		if !errors.As(err, &we) {
			we = invalid("no request read: %v", err)
		}
		s.reply(conn, Response{Error: we})
		return
	}
	req, perr := parseRequest(line)
	if perr != nil {
		s.reply(conn, Response{Error: perr})
		return
	}
	log := s.opts.Log.With("peer", peer.String(), "command", req.Command)
	log.Debug("admin: command")
	w := &responder{s: s, conn: conn}
	func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("admin: handler panicked", "panic", r, "stack", string(debug.Stack()))
				w.fail(&Error{Code: ExitFailed, Kind: kiosk.KindUnknown.String(), Message: "internal error in the appliance; it is logged"})
			}
		}()
		s.dispatch(req, peer, w, conn, release)
	}()
	if w.err != nil {
		log.Info("admin: command failed", "err", w.err.Message)
	} else {
		log.Debug("admin: command done")
	}
}

// responder writes a command's responses.
type responder struct {
	s    *Server
	conn *net.UnixConn
	err  *Error
	dead bool
}

func (w *responder) ok(result any) {
	w.send(result, false)
}

// more sends one part of a streamed answer; false when the client is gone.
func (w *responder) more(result any) bool {
	return w.send(result, true)
}

func (w *responder) send(result any, more bool) bool {
	var raw json.RawMessage
	if r, ok := result.(json.RawMessage); ok {
		raw = r
	} else if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			w.fail(errorOf(err))
			return false
		}
		raw = b
	}
	return w.write(Response{OK: true, Result: raw, More: more})
}

func (w *responder) fail(e *Error) {
	w.err = e
	w.write(Response{Error: e})
}

func (w *responder) write(r Response) bool {
	if w.dead {
		return false
	}
	if !w.s.reply(w.conn, r) {
		w.dead = true
	}
	return !w.dead
}

// reply writes one response line within the write deadline.
func (s *Server) reply(conn net.Conn, r Response) bool {
	b, err := json.Marshal(r)
	if err != nil {
		return false
	}
	conn.SetWriteDeadline(time.Now().Add(s.opts.IOTimeout))
	_, err = conn.Write(append(b, '\n'))
	if err != nil && !errors.Is(err, syscall.EPIPE) {
		s.opts.Log.Debug("admin: write failed", "err", err)
	}
	return err == nil
}
