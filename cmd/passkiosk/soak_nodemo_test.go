//go:build nodemo

package main

import (
	"fmt"
	"os"
)

// soakChild needs the demo's half of the appliance, which a nodemo build
// leaves out.
func soakChild() int {
	fmt.Fprintln(os.Stderr, "soak: this build has no demo (tag nodemo)")
	return 2
}
