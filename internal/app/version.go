package app

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// keyDependencies are the modules whose versions `version` reports: jetflow
// itself when it is a dependency (a user's binary) and the NATS it runs on.
var keyDependencies = []string{
	"github.com/jetflow/jetflow",
	"github.com/nats-io/nats-server/v2",
	"github.com/nats-io/nats.go",
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the build and the versions of NATS this binary runs on",
		Long: "Prints the main module's path and version ((devel) when built from a checkout), the Go\n" +
			"version, the VCS revision, time and modified flag when the build recorded them, and the\n" +
			"versions of nats-server and nats.go. --json prints the same as one JSON object.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo() // nil without module support: reported as unknown
			if asJSON {
				return writeVersionJSON(cmd.OutOrStdout(), bi)
			}
			return writeVersion(cmd.OutOrStdout(), bi)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// versionInfo is what `version --json` prints.
type versionInfo struct {
	Module       string          `json:"module"`
	Version      string          `json:"version"`
	GoVersion    string          `json:"go_version"`
	VCSRevision  string          `json:"vcs_revision,omitempty"`
	VCSTime      string          `json:"vcs_time,omitempty"`
	VCSModified  *bool           `json:"vcs_modified,omitempty"`
	Dependencies []moduleVersion `json:"dependencies"`
}

// moduleVersion is one dependency; Replace is set when go.mod replaces it.
type moduleVersion struct {
	Path    string         `json:"path"`
	Version string         `json:"version"`
	Replace *moduleVersion `json:"replace,omitempty"`
}

// newVersionInfo reads the build information of a binary: its main module
// (whichever module that is, jetflow's or a user's) and the key
// dependencies it links. A nil bi (no module support) is all "unknown".
func newVersionInfo(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Module: "unknown", Version: "unknown", GoVersion: "unknown", Dependencies: []moduleVersion{}}
	if bi == nil {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.VCSRevision = s.Value
		case "vcs.time":
			v.VCSTime = s.Value
		case "vcs.modified":
			if b, err := strconv.ParseBool(s.Value); err == nil {
				v.VCSModified = &b
			}
		}
	}
	for _, path := range keyDependencies {
		if path == v.Module {
			continue
		}
		for _, d := range bi.Deps {
			if d != nil && d.Path == path {
				v.Dependencies = append(v.Dependencies, moduleOf(d))
				break
			}
		}
	}
	return v
}

func moduleOf(m *debug.Module) moduleVersion {
	mv := moduleVersion{Path: m.Path, Version: m.Version}
	if m.Replace != nil {
		r := moduleOf(m.Replace)
		mv.Replace = &r
	}
	return mv
}

// String is the dependency as `go version -m` shows it.
func (m moduleVersion) String() string {
	s := strings.TrimSpace(m.Path + " " + m.Version)
	if m.Replace != nil {
		s += " => " + m.Replace.String()
	}
	return s
}

// versionLine is the one-line version, as `--version` prints it:
// "(devel), revision 0123456789ab (modified), go1.26.0".
func versionLine(bi *debug.BuildInfo) string {
	v := newVersionInfo(bi)
	parts := []string{v.Version}
	if v.VCSRevision != "" {
		rev := "revision " + v.VCSRevision[:min(len(v.VCSRevision), 12)]
		if v.VCSModified != nil && *v.VCSModified {
			rev += " (modified)"
		}
		parts = append(parts, rev)
	}
	return strings.Join(append(parts, v.GoVersion), ", ")
}

// writeVersion prints the build information as aligned "key value" lines.
func writeVersion(w io.Writer, bi *debug.BuildInfo) error {
	v := newVersionInfo(bi)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "module\t%s\n", v.Module)
	fmt.Fprintf(tw, "version\t%s\n", v.Version)
	fmt.Fprintf(tw, "go\t%s\n", v.GoVersion)
	if v.VCSRevision != "" {
		fmt.Fprintf(tw, "vcs.revision\t%s\n", v.VCSRevision)
	}
	if v.VCSTime != "" {
		fmt.Fprintf(tw, "vcs.time\t%s\n", v.VCSTime)
	}
	if v.VCSModified != nil {
		fmt.Fprintf(tw, "vcs.modified\t%t\n", *v.VCSModified)
	}
	for i, d := range v.Dependencies {
		key := ""
		if i == 0 {
			key = "dependencies"
		}
		fmt.Fprintf(tw, "%s\t%s\n", key, d)
	}
	return tw.Flush()
}

// writeVersionJSON prints the build information as one JSON object.
func writeVersionJSON(w io.Writer, bi *debug.BuildInfo) error {
	enc := json.NewEncoder(w)
	return enc.Encode(newVersionInfo(bi))
}

// rootVersion is cobra's root Version: what `--version` prints.
func rootVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionLine(bi)
}
