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
	// Plumbing every layer may use: wire vocabulary, context keys, the
	// embedded server.
	"internal/logctx":     0,
	"internal/tracectx":   0,
	"internal/jsasync":    0,
	"internal/rpc":        0,
	"internal/natsserver": 0,
	"internal/natstest":   1, // tests' servers, over natsserver
	// The event store.
	"streams": 2,
	// The libraries over it, independent of each other.
	"aggregates":  3,
	"projections": 3,
	"consumers":   3,
	// What assembles a running system from the libraries.
	"internal/platform":      4,
	"internal/config":        4,
	"internal/observability": 4,
	"internal/bench":         5, // measures the assembled system
	"internal/app":           6, // the command line and serve runtime
	// The public application package, over the runtime.
	"": 7,
	// Users' code and the test kit, written only against public packages.
	"jetflowtest":    8,
	"examples/users": 8,
	// The users domain as the bench's domain, for the jetflow binary.
	"internal/bench/userbench": 9,
	// Binaries and deployment.
	"cmd/jetflow": 10,
	"deploy":      10,
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
