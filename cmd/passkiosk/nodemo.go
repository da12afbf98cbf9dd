//go:build nodemo

package main

import (
	"context"
	"errors"
	"log/slog"
)

// This window was built without the demo (tag nodemo, as make build
// does for the package): it links no TPM simulator, libfido2 or database.

func serveDemoCheck() {}

func runDemo(context.Context, string, *slog.Logger) (*window, func(), error) {
	return nil, nil, errors.New("this passkiosk was built without the demo (tag nodemo); the demo is go run ./cmd/passkiosk --demo from the source")
}

func runDemoFleet(context.Context, string, *slog.Logger) error {
	return errors.New("this passkiosk was built without the demo (tag nodemo); the demo fleet is make demo-fleet from the source")
}
