package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"passkiosk/kiosk/admin"
)

// stdin is where confirmations are read from.
var stdin = os.Stdin

// isTerminal says whether f is a terminal (a tcgetattr that works).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// confirm asks before a change that cannot be undone. --yes answers for
// scripts; without it, a standard input that is not a terminal is refused
// rather than read, so a script that forgot --yes stops instead of
// acting on whatever its input holds.
func (e *env) confirm(yes bool, what, question string) error {
	if yes {
		return nil
	}
	if !isTerminal(stdin) {
		return usagef("%s asks for confirmation and standard input is not a terminal: add --yes to confirm from a script", what)
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &admin.Error{Code: admin.ExitRefused, Kind: "cancelled", Message: what + ": not confirmed; nothing was changed"}
}
