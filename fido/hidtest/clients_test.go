package hidtest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"passkiosk/kiosk"
)

var clientHandlers = map[string]Handler{
	"preload": func(ctx context.Context, _ json.RawMessage) (any, error) {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"Preloaded": strings.Contains(string(maps), "libumockdev-preload"),
			"Dir":       os.Getenv("UMOCKDEV_DIR"),
		}, nil
	},
	"fail": func(ctx context.Context, _ json.RawMessage) (any, error) {
		return nil, kiosk.WithTries(kiosk.KindPINInvalid, "test", 5, errors.New("wrong PIN"))
	},
	"block": func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		return nil, kiosk.E(kiosk.KindCancelled, "test", ctx.Err())
	},
}
