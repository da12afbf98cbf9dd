package kiosk_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The import direction of DESIGN.md, checked on the packages' transitive
// dependencies: cmd → ui, kiosk/…, tpm, fido/…, store → fido → kiosk.
var forbidden = []struct {
	pkg       string // package, or prefix ending in "/..."
	forbidden []string
}{
	{"passkiosk/kiosk/...", []string{"fyne.io/fyne/v2", "go.etcd.io/bbolt", "github.com/keys-pub/go-libfido2", "passkiosk/tpm", "passkiosk/store", "passkiosk/ui",
		"github.com/google/go-tpm/tpm2/transport/simulator", "github.com/google/go-tpm/tpm2/transport/linuxtpm", "github.com/google/go-tpm/tpm2/transport/linuxudstpm"}},
	{"passkiosk/fido", []string{"github.com/keys-pub/go-libfido2", "github.com/google/go-tpm/tpm2/transport/simulator", "github.com/google/go-tpm/tpm2/transport/linuxtpm", "github.com/google/go-tpm/tpm2/transport/linuxudstpm", "passkiosk/tpm", "passkiosk/store", "passkiosk/ui", "fyne.io/fyne/v2", "go.etcd.io/bbolt"}},
	{"passkiosk/fido/cbor", []string{"passkiosk/fido"}},
	{"passkiosk/fido/usbkey", []string{"passkiosk/tpm", "passkiosk/store", "passkiosk/ui", "fyne.io/fyne/v2"}},
	{"passkiosk/fido/softkey", []string{"passkiosk/tpm", "passkiosk/store", "passkiosk/ui", "fyne.io/fyne/v2", "github.com/keys-pub/go-libfido2"}},
	{"passkiosk/tpm", []string{"passkiosk/fido/usbkey", "passkiosk/store", "passkiosk/ui", "fyne.io/fyne/v2", "github.com/keys-pub/go-libfido2"}},
	{"passkiosk/store", []string{"passkiosk/tpm", "passkiosk/fido/usbkey", "passkiosk/ui", "fyne.io/fyne/v2", "github.com/keys-pub/go-libfido2", "github.com/google/go-tpm"}},
	// The admin command talks to the appliance only through its socket:
	// it never opens the database, and has no GUI.
	{"passkiosk/cmd/passkioskctl", []string{"passkiosk/store", "go.etcd.io/bbolt", "fyne.io/fyne/v2", "github.com/keys-pub/go-libfido2", "github.com/google/go-tpm"}},
	// The root daemon, and what it assembles, draw nothing: no Fyne, no
	// GL, no screens. Only the window (cmd/passkiosk) links them.
	{"passkiosk/cmd/passkioskd", []string{"fyne.io/fyne/v2", "github.com/go-gl", "passkiosk/ui"}},
	{"passkiosk/cmd/internal/appliance", []string{"fyne.io/fyne/v2", "github.com/go-gl", "passkiosk/ui"}},
	// The wire between them is the standard library and kiosk's
	// vocabulary (kiosk/... above forbids the rest).
	{"passkiosk/kiosk/uilink", []string{"golang.org/x"}},
	{"passkiosk/kiosk/peercred", []string{"golang.org/x"}},
	{"passkiosk/ui", []string{"fyne.io/fyne/v2/app", "go.etcd.io/bbolt", "github.com/google/go-tpm", "github.com/keys-pub/go-libfido2"}},
}

// directOnly are libraries a package must not import itself, though it may
// reach them through fido: go-webauthn's attestation code and fido's own
// TPM attestation parse TPM structures with go-tpm, which talks to no
// device.
var directOnly = []struct {
	pkg       string
	forbidden []string
}{
	{"passkiosk/kiosk/...", []string{"github.com/google/go-tpm"}},
}

type listed struct {
	ImportPath string
	Deps       []string
	Imports    []string
	CgoFiles   []string
}

func goList(t *testing.T) map[string]listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json", "passkiosk/...")
	cmd.Dir = ".."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("go tool not available: %v", err)
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(out)
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func matches(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func TestImportDirection(t *testing.T) {
	pkgs := goList(t)
	for path, p := range pkgs {
		for _, rule := range forbidden {
			if !matches(rule.pkg, path) {
				continue
			}
			for _, dep := range p.Deps {
				for _, f := range rule.forbidden {
					if matches(f+"/...", dep) {
						t.Errorf("%s depends on %s (through its imports); DESIGN.md forbids it", path, dep)
					}
				}
			}
		}
		for _, rule := range directOnly {
			if !matches(rule.pkg, path) {
				continue
			}
			for _, imp := range p.Imports {
				for _, f := range rule.forbidden {
					if matches(f+"/...", imp) {
						t.Errorf("%s imports %s; DESIGN.md forbids it", path, imp)
					}
				}
			}
		}
		for _, dep := range p.Deps {
			if dep == "fyne.io/fyne/v2/app" && path != "passkiosk/cmd/passkiosk" {
				t.Errorf("%s depends on fyne.io/fyne/v2/app; only cmd/passkiosk may", path)
			}
		}
	}
	// The programs that ship link no test-support package (kiosktest,
	// fidotest, hidtest, …): the demo's key adapter is fido/softkey/demokey.
	for _, prog := range []string{"passkiosk/cmd/passkiosk", "passkiosk/cmd/passkioskd", "passkiosk/cmd/passkioskctl"} {
		if _, ok := pkgs[prog]; !ok {
			t.Errorf("program %s not found", prog)
		}
		for _, dep := range pkgs[prog].Deps {
			if strings.HasPrefix(dep, "passkiosk/") && strings.HasSuffix(dep, "test") {
				t.Errorf("%s depends on the test-support package %s", prog, dep)
			}
		}
	}
	// The etcd server module is for the fleet service and the tests'
	// embedded cluster only: the appliance and its tools use the client.
	// passkiosk-demo-cluster is make demo-fleet's directory, on this
	// machine; no terminal runs it.
	etcdServer := map[string]bool{"passkiosk/store/fleet/fleettest": true, "passkiosk/cmd/passkiosk-fleetd": true,
		"passkiosk/cmd/passkiosk-demo-cluster": true}
	for path, p := range pkgs {
		if etcdServer[path] {
			continue
		}
		for _, dep := range p.Deps {
			if matches("go.etcd.io/etcd/server/v3/...", dep) {
				t.Errorf("%s depends on %s; only %s may use the etcd server module", path, dep, "store/fleet/fleettest, cmd/passkiosk-fleetd and cmd/passkiosk-demo-cluster")
				break
			}
		}
	}
	k := pkgs["passkiosk/kiosk"]
	for _, imp := range k.Imports {
		if strings.Contains(strings.Split(imp, "/")[0], ".") || strings.HasPrefix(imp, "passkiosk/") {
			t.Errorf("kiosk imports %s; it may import only the standard library", imp)
		}
	}
	// fido is pure Go: no cgo in it or in the project packages under it.
	for _, path := range append([]string{"passkiosk/fido"}, pkgs["passkiosk/fido"].Deps...) {
		if strings.HasPrefix(path, "passkiosk/") && len(pkgs[path].CgoFiles) > 0 {
			t.Errorf("%s uses cgo; fido must stay pure Go", path)
		}
	}
}

// The window as the package ships it (make build: tags wayland and
// nodemo) runs as an unprivileged account and holds no secrets: it links
// no TPM, no security-key library, no database, no engine, no sessions.
func TestShippedWindowLinksNoAppliance(t *testing.T) {
	cmd := exec.Command("go", "list", "-tags", "no_animations,wayland,nodemo", "-deps", "passkiosk/cmd/passkiosk")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range []string{"passkiosk/tpm", "passkiosk/store", "passkiosk/fido", "passkiosk/kiosk/engine",
			"passkiosk/kiosk/session", "passkiosk/kiosk/admin", "passkiosk/cmd/internal/appliance",
			"go.etcd.io/bbolt", "github.com/google/go-tpm", "github.com/keys-pub/go-libfido2"} {
			if matches(f+"/...", dep) {
				t.Errorf("the shipped window depends on %s", dep)
			}
		}
	}
}
