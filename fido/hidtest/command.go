package hidtest

import (
	"context"
	"os/exec"
)

// Command prepares a C program (such as libfido2's fido2-token) to run as
// a client of the testbed.
func (b *Testbed) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = b.Env()
	return cmd
}
