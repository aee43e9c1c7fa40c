package app

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// buildInfo is a binary's build information as the go command records it;
// vcs adds the settings of a build from a checkout.
func buildInfo(vcs bool) *debug.BuildInfo {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Path:      "github.com/jetflow/jetflow/cmd/jetflow",
		Main:      debug.Module{Path: "github.com/jetflow/jetflow", Version: "v0.4.0"},
		Deps: []*debug.Module{
			{Path: "github.com/google/uuid", Version: "v1.6.0"},
			{Path: "github.com/nats-io/nats.go", Version: "v1.55.0"},
			{Path: "github.com/nats-io/nats-server/v2", Version: "v2.15.2"},
		},
		Settings: []debug.BuildSetting{{Key: "-trimpath", Value: "true"}, {Key: "GOOS", Value: "linux"}},
	}
	if vcs {
		bi.Main.Version = "v0.4.1-0.20260102030405-0123456789ab+dirty"
		bi.Settings = append(bi.Settings,
			debug.BuildSetting{Key: "vcs", Value: "git"},
			debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			debug.BuildSetting{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			debug.BuildSetting{Key: "vcs.modified", Value: "true"},
		)
	}
	return bi
}

// TestVersionFormats: the text, JSON and one-line forms of a hand-built
// build information, with and without VCS settings, and of none at all.
func TestVersionFormats(t *testing.T) {
	t.Parallel()
	modified := true
	for _, tc := range []struct {
		name      string
		bi        *debug.BuildInfo
		text      string
		json      versionInfo
		line      string
		notInText []string
	}{
		{
			name: "release",
			bi:   buildInfo(false),
			text: "module        github.com/jetflow/jetflow\n" +
				"version       v0.4.0\n" +
				"go            go1.26.0\n" +
				"dependencies  github.com/nats-io/nats-server/v2 v2.15.2\n" +
				"              github.com/nats-io/nats.go v1.55.0\n",
			json: versionInfo{Module: "github.com/jetflow/jetflow", Version: "v0.4.0", GoVersion: "go1.26.0",
				Dependencies: []moduleVersion{
					{Path: "github.com/nats-io/nats-server/v2", Version: "v2.15.2"},
					{Path: "github.com/nats-io/nats.go", Version: "v1.55.0"},
				}},
			line:      "v0.4.0, go1.26.0",
			notInText: []string{"vcs", "uuid", "GOOS"},
		},
		{
			name: "checkout",
			bi:   buildInfo(true),
			text: "module        github.com/jetflow/jetflow\n" +
				"version       v0.4.1-0.20260102030405-0123456789ab+dirty\n" +
				"go            go1.26.0\n" +
				"vcs.revision  0123456789abcdef0123456789abcdef01234567\n" +
				"vcs.time      2026-01-02T03:04:05Z\n" +
				"vcs.modified  true\n" +
				"dependencies  github.com/nats-io/nats-server/v2 v2.15.2\n" +
				"              github.com/nats-io/nats.go v1.55.0\n",
			json: versionInfo{Module: "github.com/jetflow/jetflow", Version: "v0.4.1-0.20260102030405-0123456789ab+dirty",
				GoVersion: "go1.26.0", VCSRevision: "0123456789abcdef0123456789abcdef01234567",
				VCSTime: "2026-01-02T03:04:05Z", VCSModified: &modified,
				Dependencies: []moduleVersion{
					{Path: "github.com/nats-io/nats-server/v2", Version: "v2.15.2"},
					{Path: "github.com/nats-io/nats.go", Version: "v1.55.0"},
				}},
			line: "v0.4.1-0.20260102030405-0123456789ab+dirty, revision 0123456789ab (modified), go1.26.0",
		},
		{
			name: "user binary",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.0",
				Main:      debug.Module{Path: "example.com/shop", Version: "(devel)"},
				Deps: []*debug.Module{
					{Path: "github.com/jetflow/jetflow", Version: "v0.4.0", Replace: &debug.Module{Path: "../jetflow"}},
					{Path: "github.com/nats-io/nats.go", Version: "v1.55.0"},
				},
			},
			text: "module        example.com/shop\n" +
				"version       (devel)\n" +
				"go            go1.26.0\n" +
				"dependencies  github.com/jetflow/jetflow v0.4.0 => ../jetflow\n" +
				"              github.com/nats-io/nats.go v1.55.0\n",
			json: versionInfo{Module: "example.com/shop", Version: "(devel)", GoVersion: "go1.26.0",
				Dependencies: []moduleVersion{
					{Path: "github.com/jetflow/jetflow", Version: "v0.4.0", Replace: &moduleVersion{Path: "../jetflow"}},
					{Path: "github.com/nats-io/nats.go", Version: "v1.55.0"},
				}},
			line: "(devel), go1.26.0",
		},
		{
			name: "no build information",
			bi:   nil,
			text: "module   unknown\nversion  unknown\ngo       unknown\n",
			json: versionInfo{Module: "unknown", Version: "unknown", GoVersion: "unknown", Dependencies: []moduleVersion{}},
			line: "unknown, unknown",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var text bytes.Buffer
			if err := writeVersion(&text, tc.bi); err != nil {
				t.Fatal(err)
			}
			if text.String() != tc.text {
				t.Errorf("text:\n%s\nwant:\n%s", text.String(), tc.text)
			}
			for _, s := range tc.notInText {
				if strings.Contains(text.String(), s) {
					t.Errorf("text shows %q:\n%s", s, text.String())
				}
			}
			var js bytes.Buffer
			if err := writeVersionJSON(&js, tc.bi); err != nil {
				t.Fatal(err)
			}
			var got versionInfo
			dec := json.NewDecoder(&js)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("JSON %q: %v", js.String(), err)
			}
			if !reflect.DeepEqual(got, tc.json) {
				t.Errorf("JSON = %+v, want %+v", got, tc.json)
			}
			if got := versionLine(tc.bi); got != tc.line {
				t.Errorf("line = %q, want %q", got, tc.line)
			}
		})
	}
}

// TestVersionCommand: `jetflow version` (text and --json) and `jetflow
// --version` report this binary's build, the Go version it was built with
// included.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	out, stderr, err := runRoot(t, "version")
	if err != nil {
		t.Fatalf("version: %v (stderr %q)", err, stderr)
	}
	goLine := regexp.MustCompile(`(?m)^go +` + regexp.QuoteMeta(runtime.Version()) + `$`)
	if !goLine.MatchString(out) || !strings.HasPrefix(out, "module ") {
		t.Errorf("version printed %q, want the module and Go %s", out, runtime.Version())
	}

	out, stderr, err = runRoot(t, "version", "--json")
	if err != nil {
		t.Fatalf("version --json: %v (stderr %q)", err, stderr)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("version --json printed %q: %v", out, err)
	}
	if v.GoVersion != runtime.Version() || v.Module == "" || v.Version == "" {
		t.Errorf("version --json = %+v, want Go %s and a module and version", v, runtime.Version())
	}

	out, stderr, err = runRoot(t, "--version")
	if err != nil {
		t.Fatalf("--version: %v (stderr %q)", err, stderr)
	}
	if !strings.HasPrefix(out, "jetflow version ") || !strings.HasSuffix(out, ", "+runtime.Version()+"\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("--version printed %q, want one line ending in %s", out, runtime.Version())
	}
}
