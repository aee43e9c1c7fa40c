// Package docs_test keeps the tutorials true: their code is built and
// tested as a user would build it, in a module of its own.
package docs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natstest"
)

// titled matches the opening fence of a file the tutorial shows:
// ```go title="order.go"
var titled = regexp.MustCompile("^```go title=\"([^\"]+)\"\\s*$")

// tutorialFiles returns the files of the fenced blocks of a markdown
// document that name one, in order; a name given twice is an error, so a
// reader never has to guess which version counts.
func tutorialFiles(t *testing.T, doc string) map[string]string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	var name string
	var body strings.Builder
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case name == "":
			if m := titled.FindStringSubmatch(text); m != nil {
				name = m[1]
				if _, dup := files[name]; dup {
					t.Fatalf("%s:%d: %s is shown twice", doc, line, name)
				}
				if filepath.Base(name) != name || !strings.HasSuffix(name, ".go") {
					t.Fatalf("%s:%d: %q: want the name of a .go file at the module's root", doc, line, name)
				}
			}
		case text == "```":
			files[name] = body.String()
			name = ""
			body.Reset()
		default:
			body.WriteString(text)
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		t.Fatalf("%s: the block of %s is not closed", doc, name)
	}
	return files
}

// goDirective is the go line of jetflow's own go.mod.
func goDirective(t *testing.T, repo string) string {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// The tutorial's files, in an empty module example.com/shop that
// requires jetflow (this checkout), build, vet and pass their own tests.
func TestYourOwnDomainTutorial(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a module of its own: not in -short")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := tutorialFiles(t, "your-own-domain.md")
	for _, want := range []string{"main.go", "register.go", "order_test.go", "app_test.go"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("the tutorial shows no %s", want)
		}
	}
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gomod := fmt.Sprintf("module example.com/shop\n\ngo %s\n\nrequire github.com/jetflow/jetflow v0.0.0\n\nreplace github.com/jetflow/jetflow => %s\n",
		goDirective(t, repo), repo)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	// jetflow's own sums cover every module the shop needs.
	sums, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// The shop is built as a user builds it: no race detector, no
		// vendoring, whatever flags this test binary was built with.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s in the tutorial's module: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	run("mod", "tidy")
	run("vet", "./...")
	run("build", "-o", filepath.Join(dir, "shop"), ".")
	run("test", "-count=1", "./...")

	// The binary is jetflow's command line over the shop's domain.
	out, err := exec.Command(filepath.Join(dir, "shop"), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("shop serve --help: %v\n%s", err, out)
	}
	for _, flag := range []string{"--listen", "--store-dir", "--metrics-listen", "--nats-url"} {
		if !bytes.Contains(out, []byte(flag)) {
			t.Errorf("shop serve --help does not offer %s:\n%s", flag, out)
		}
	}
	runSession(t, filepath.Join(dir, "shop"), "your-own-domain.md")
}

// step is one command of a shell session the tutorial shows, with the
// output it says the command prints ("" when it says nothing).
type step struct {
	args []string
	want string
}

// sessionSteps returns the tutorial's `go run . send|query|events|...`
// lines, each with the "# output" line that follows it, if any.
func sessionSteps(t *testing.T, doc string) []step {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var steps []step
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "go run . ") && !strings.HasPrefix(line, "go run . serve"):
			steps = append(steps, step{args: shellWords(t, strings.TrimPrefix(line, "go run . "))})
		case strings.HasPrefix(line, "# ") && len(steps) > 0 && steps[len(steps)-1].want == "":
			steps[len(steps)-1].want = strings.TrimPrefix(line, "# ")
		}
	}
	return steps
}

// shellWords splits a command line of plain words and single-quoted
// strings, the only quoting the tutorial uses.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '\'' {
			end := strings.IndexByte(line[1:], '\'')
			if end < 0 {
				t.Fatalf("unclosed quote in %q", line)
			}
			words = append(words, line[1:end+1])
			line = line[end+2:]
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		words = append(words, word)
		line = rest
	}
	return words
}

// runSession serves the shop binary on a free port and runs the
// tutorial's session against it, checking each output it shows.
func runSession(t *testing.T, shop, doc string) {
	steps := sessionSteps(t, doc)
	if len(steps) < 4 {
		t.Fatalf("found %d session steps in %s, want the send and query steps", len(steps), doc)
	}
	addr := natstest.FreeAddr(t)
	serve := exec.Command(shop, "serve", "--listen", addr, "--store-dir", t.TempDir(), "--metrics-listen", "")
	serve.Dir = t.TempDir() // no jetflow.tsk
	var logs bytes.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = serve.Process.Signal(os.Interrupt)
		if err := serve.Wait(); err != nil {
			t.Errorf("shop serve stopped with %v\n%s", err, logs.String())
		}
	})
	url := "nats://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for exec.Command(shop, "projections", "status", "orders_by_customer", "--nats-url", url).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("shop serve not up after 60s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range steps {
		out, _ := exec.Command(shop, append(s.args, "--nats-url", url)...).CombinedOutput()
		if s.want != "" && strings.TrimSpace(string(out)) != s.want {
			t.Errorf("shop %s\nprinted: %s\nthe tutorial says: %s", strings.Join(s.args, " "), bytes.TrimSpace(out), s.want)
		}
	}
}
