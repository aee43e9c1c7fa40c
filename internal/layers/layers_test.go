package layers

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/jetflow/jetflow"

// layer of each package, by import path below the module; a package may
// import only packages of a lower layer. docs/architecture.md says why.
var layer = map[string]int{
	// The wire contract's vocabulary, and log attributes carried in a
	// context: what every other package may use.
	"wire":   0,
	"logctx": 0,
	// The shape of long-running parts, and the group that runs them.
	"lifecycle": 0,
	// Request/reply over NATS with that vocabulary: services and clients.
	"rpc":    1,
	"client": 1,
	// The event store.
	"streams": 2,
	// The libraries over it, independent of each other.
	"aggregates":  3,
	"projections": 3,
	"consumers":   3,
	// The Prometheus adapter of the libraries' Metrics hooks.
	"metrics": 4,
	// Process managers, over the message queue's workers, the client and
	// the store; metrics implements its hooks without importing it.
	"processes": 4,
	// What assembles a running system from the public packages; nothing
	// public imports it but the application package.
	"internal/natsserver":    5, // the embedded server and its store lock
	"internal/netproxy":      5, // the TCP proxy fault tests and chaos cut
	"internal/config":        5, // jetflow.tsk and JETFLOW_*
	"internal/observability": 5, // /metrics, /healthz, /readyz
	"internal/natstest":      6, // tests' servers, over natsserver
	"internal/platform":      6, // connecting or starting the server, provisioning
	"internal/bench":         7, // measures the assembled system
	"internal/chaos":         7, // injects faults into it and verifies every write
	"internal/console":       7, // the web console serve runs at /ui/
	"internal/app":           8, // the command line and serve runtime
	// The public application package, over the runtime.
	"": 9,
	// Users' code and the test kit, written only against public packages.
	"jetflowtest":    10,
	"examples/users": 10,
	// Binaries, deployment, and the docs' tests.
	"cmd/jetflow": 11,
	"deploy":      11,
	"docs":        11,
}

type pkg struct {
	path    string   // below the module ("" for its root)
	imports []string // the module's packages it imports, below the module
}

// modulePackages lists the module's packages with their non-test imports.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		p := pkg{path: rel(fields[0])}
		for _, imp := range fields[1:] {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				p.imports = append(p.imports, rel(imp))
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

func TestImportsRunDownTheLayers(t *testing.T) {
	t.Parallel()
	for _, p := range modulePackages(t) {
		if p.path == "internal/layers" {
			continue
		}
		own, ok := layer[p.path]
		if !ok {
			t.Errorf("package %s has no layer: add it to layers_test.go and docs/architecture.md", p.path)
			continue
		}
		for _, imp := range p.imports {
			if strings.HasPrefix(p.path, "examples/") && strings.HasPrefix(imp, "internal/") {
				t.Errorf("%s imports %s: an example may use only what a user can import", p.path, imp)
			}
			l, ok := layer[imp]
			switch {
			case !ok:
				// Reported as a package without a layer.
			case l == own:
				t.Errorf("%s imports %s of its own layer %d: libraries of one layer stay independent", p.path, imp, own)
			case l > own:
				t.Errorf("%s (layer %d) imports %s (layer %d): an import runs back up", p.path, own, imp, l)
			}
		}
	}
}
