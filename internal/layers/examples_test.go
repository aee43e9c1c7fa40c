package layers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Example functions are documentation a user copies into a program of
// their own: a file that declares one imports no internal package. The
// internal packages' own examples are exempt (no user sees them).
func TestExamplesImportOnlyPublicPackages(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{"\t"}}{{.Dir}}{{"\t"}}{{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	examples := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimRight(line, "\n"), "\t")
		path, dir, files := rel(fields[0]), fields[1], strings.Fields(fields[2])
		if strings.HasPrefix(path, "internal/") {
			continue
		}
		for _, name := range files {
			file := filepath.Join(dir, name)
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parse %s: %v", file, err)
			}
			var funcs []string
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") {
					funcs = append(funcs, fn.Name.Name)
				}
			}
			if len(funcs) == 0 {
				continue
			}
			examples += len(funcs)
			for _, imp := range f.Imports {
				p, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					t.Fatalf("%s: import %s: %v", file, imp.Path.Value, err)
				}
				if p == module+"/internal" || strings.HasPrefix(p, module+"/internal/") {
					t.Errorf("%s imports %s beside its Example functions (%s): a user could not copy them", file, p, strings.Join(funcs, ", "))
				}
			}
		}
	}
	if examples == 0 {
		t.Fatal("no Example function found: the check proves nothing")
	}
}
