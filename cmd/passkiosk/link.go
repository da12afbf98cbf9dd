package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"

	"passkiosk/kiosk/uilink"
)

// inProcess dials the demo's daemon half in this process: every dial makes
// a fresh pair of connected Unix sockets and attaches one end to the
// link's server, so the window speaks the same protocol as over the
// daemon's socket.
func inProcess(srv *uilink.Server) func(context.Context) (net.Conn, error) {
	return func(context.Context) (net.Conn, error) {
		a, b, err := socketPair()
		if err != nil {
			return nil, err
		}
		srv.Attach(a, "the demo's window (in process)")
		return b, nil
	}
}

// socketPair is socketpair(2) as two net.Conns.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "uilink")
		c, err := net.FileConn(f)
		f.Close() // FileConn made its own copy of the descriptor
		if err != nil {
			if i == 1 {
				conns[0].Close()
			} else {
				syscall.Close(fds[1])
			}
			return nil, nil, err
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}
