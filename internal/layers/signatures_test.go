package layers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// public reports whether a package of the module is part of its API: what
// a user imports (not internal, not a binary, an example or a test home).
func public(path string) bool {
	if strings.HasPrefix(path, "internal/") || path == "internal" {
		return false
	}
	for _, top := range []string{"cmd", "examples", "deploy", "docs"} {
		if path == top || strings.HasPrefix(path, top+"/") {
			return false
		}
	}
	return true
}

// exportData builds the module's packages and returns where the compiler
// wrote each one's export data, by import path.
func exportData(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", module+"/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -export: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -export: %v", err)
	}
	files := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, _ := strings.Cut(sc.Text(), "\t")
		files[path] = file
	}
	return files
}

// No exported identifier of a public package has a type from internal/ in
// its signature: a user could hold such a value but never name its type.
func TestPublicAPINamesNoInternalType(t *testing.T) {
	t.Parallel()
	files := exportData(t)
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		f, ok := files[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	for _, p := range modulePackages(t) {
		if !public(p.path) {
			continue
		}
		path := module
		if p.path != "" {
			path += "/" + p.path
		}
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, name := range pkg.Scope().Names() {
			obj := pkg.Scope().Lookup(name)
			if !obj.Exported() {
				continue
			}
			for _, found := range internalTypes(obj) {
				t.Errorf("%s.%s mentions %s: a user cannot name it (make it public or keep it out of the API)", pkg.Name(), name, found)
			}
		}
	}
}

// internalTypes lists the named types of internal packages that obj's
// exported surface mentions: its type, and for a type its exported fields
// and methods.
func internalTypes(obj types.Object) []string {
	w := &typeWalker{seen: map[types.Type]bool{}}
	if tn, ok := obj.(*types.TypeName); ok && !tn.IsAlias() {
		named, _ := tn.Type().(*types.Named)
		if named != nil {
			w.structure(named.Underlying())
			for m := range named.Methods() {
				if m.Exported() {
					w.walk(m.Type())
				}
			}
		}
		return w.found
	}
	w.walk(obj.Type())
	return w.found
}

type typeWalker struct {
	seen  map[types.Type]bool
	found []string
}

// walk visits a type as a signature mentions it: a named type is judged
// by its package, not entered.
func (w *typeWalker) walk(t types.Type) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	switch t := t.(type) {
	case *types.Named:
		if p := t.Obj().Pkg(); p != nil && strings.HasPrefix(p.Path(), module+"/internal/") {
			w.found = append(w.found, p.Path()+"."+t.Obj().Name())
		}
		if args := t.TypeArgs(); args != nil {
			for a := range args.Types() {
				w.walk(a)
			}
		}
	case *types.Alias:
		w.walk(types.Unalias(t))
	default:
		w.structure(t)
	}
}

// structure visits the parts of an unnamed type.
func (w *typeWalker) structure(t types.Type) {
	switch t := t.(type) {
	case *types.Pointer:
		w.walk(t.Elem())
	case *types.Slice:
		w.walk(t.Elem())
	case *types.Array:
		w.walk(t.Elem())
	case *types.Map:
		w.walk(t.Key())
		w.walk(t.Elem())
	case *types.Chan:
		w.walk(t.Elem())
	case *types.Signature:
		for v := range t.Params().Variables() {
			w.walk(v.Type())
		}
		for v := range t.Results().Variables() {
			w.walk(v.Type())
		}
	case *types.Struct:
		for f := range t.Fields() {
			if f.Exported() || f.Embedded() {
				w.walk(f.Type())
			}
		}
	case *types.Interface:
		for m := range t.Methods() {
			if m.Exported() {
				w.walk(m.Type())
			}
		}
		for e := range t.EmbeddedTypes() {
			w.walk(e)
		}
	case *types.Named, *types.Alias:
		w.walk(t)
	}
}
