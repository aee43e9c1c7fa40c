package config

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// Key describes one setting for documentation and tooling.
type Key struct {
	// Name is the dotted key; named sections show their entry as <name>:
	// "events.replicas", "topics.<name>.replicas".
	Name string
	// Type is "string", "integer", "boolean", "duration", "array of strings"…
	Type string
	// Default is the default value written as TuskLang.
	Default string
	// Env is the environment variable: JETFLOW_EVENTS_REPLICAS, JETFLOW_TOPICS_<NAME>_REPLICAS.
	Env string
	// Doc says what the key does.
	Doc string
}

// Keys lists every setting of the platform in schema order.
func Keys() []Key { return platform.Keys() }

// Keys lists every setting of the schema in order: the platform's, then
// the program's.
func (sc *Schema) Keys() []Key {
	var keys []Key
	for _, sec := range sc.sections {
		entry := ""
		if sec.named {
			entry = "<name>"
		}
		def := sec.def(entry)
		for _, k := range sec.keys {
			name := dottedKey(sec, entry, k.name)
			keys = append(keys, Key{
				Name:    name,
				Type:    typeName(k.ptr(def)),
				Default: formatValue(k.ptr(def)),
				Env:     EnvName(name),
				Doc:     k.doc,
			})
		}
	}
	return keys
}

// exampleEntries are the named entries the reference shows, commented out,
// so a reader sees each named section filled in.
func exampleEntries() Config {
	c := Default()
	users := DefaultProjection("users")
	users.Subjects = []string{"events.user.>"}
	c.Projections = map[string]ProjectionConfig{"users": users}
	c.Topics = map[string]TopicConfig{"orders": DefaultTopic()}
	hook := DefaultSubscription()
	hook.Topic = "orders"
	hook.Subjects = []string{"order.created"}
	hook.Filter = FilterConfig{Field: "total", Op: OpGreaterThan, Value: int64(100)}
	hook.Webhook.URL = "https://example.com/hooks/orders"
	c.Subscriptions = map[string]SubscriptionConfig{"big-orders": hook}
	payment := DefaultProcess("payment")
	payment.KeepEnded = 24 * time.Hour
	c.Processes = map[string]ProcessConfig{"payment": payment}
	return c
}

const referenceIntro = `# jetflow.tsk: the configuration of the jetflow platform, in TuskLang.
#
# Every key below is set to its default. Later layers win:
#
#   defaults < this file < JETFLOW_* environment variables < command-line flags
#
# A key's variable is JETFLOW_<SECTION>_<KEY> (JETFLOW_EVENTS_REPLICAS=3),
# or JETFLOW_<SECTION>_<NAME>_<KEY> in a named section. jetflow reads
# jetflow.tsk from the working directory (or the file JETFLOW_CONFIG names);
# ` + "`jetflow config check [file]`" + ` validates the result and prints it.
#
# Syntax: key: value or key = value, one per line. Strings are quoted
# ("..." takes escapes, '...' does not); durations are strings ("500ms",
# "5s", "1h30m"); arrays are [a, b] and may span lines; null leaves a key at
# its default. $name: value lines before the first section define variables,
# used as $name; @env("NAME", default) reads an environment variable:
#
#   $replicas: 3
#   [events]
#   replicas: $replicas
#   [nats]
#   password: @env("NATS_PASSWORD")
#
# Grammar and key reference: docs/configuration.md
`

// writeReference writes the annotated jetflow.tsk of the repository root:
// every key at its default with its documentation, and named sections as
// commented-out examples. A test keeps the file equal to this output.
func writeReference(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(referenceIntro)
	d := Default()
	ex := exampleEntries()
	for _, sec := range platform.sections {
		bw.WriteString("\n# " + strings.Repeat("-", 75) + "\n")
		if !sec.named {
			writeComment(bw, "", fmt.Sprintf("[%s] %s", sec.name, sec.doc))
			bw.WriteString("\n")
			fmt.Fprintf(bw, "[%s]\n", sec.name)
			section := sec.read(&d, "")
			for i, k := range sec.keys {
				if i > 0 {
					bw.WriteString("\n")
				}
				key := sec.name + "." + k.name
				writeComment(bw, "", fmt.Sprintf("%s Default %s; env %s.", k.doc, formatValue(k.ptr(section)), EnvName(key)))
				fmt.Fprintf(bw, "%s: %s\n", k.name, formatValue(k.ptr(section)))
			}
			continue
		}
		def := sec.def("<name>")
		writeComment(bw, "", fmt.Sprintf("[%s.<name>] %s", sec.name, sec.doc))
		fmt.Fprintf(bw, "# Keys (env JETFLOW_%s_<NAME>_<KEY>):\n", strings.ToUpper(sec.name))
		width := 0
		for _, k := range sec.keys {
			width = max(width, len(k.name))
		}
		for _, k := range sec.keys {
			writeComment(bw, fmt.Sprintf("  %-*s  ", width, k.name),
				fmt.Sprintf("%s Default %s.", k.doc, formatValue(k.ptr(def))))
		}
		bw.WriteString("# Example:\n#\n")
		for _, entry := range sec.entries(ex) {
			writeSection(bw, sec, entry, sec.read(&ex, entry), "# ")
		}
	}
	return bw.Flush()
}

// writeComment writes text as comment lines of at most 78 columns; the
// first line starts with lead, the others are indented to match it.
func writeComment(w *bufio.Writer, lead, text string) {
	indent := strings.Repeat(" ", len(lead))
	line := "#" + " " + lead
	empty := true
	for word := range strings.FieldsSeq(text) {
		if !empty && len(line)+1+len(word) > 78 {
			w.WriteString(strings.TrimRight(line, " ") + "\n")
			line, empty = "# "+indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	w.WriteString(line + "\n")
}

// writeKeyTable writes the key reference of docs/configuration.md: one
// Markdown table per section.
func writeKeyTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	keys := Keys()
	for _, sec := range platform.sections {
		header := sec.name
		if sec.named {
			header += ".<name>"
		}
		fmt.Fprintf(bw, "\n### `[%s]`\n\n%s\n\n", header, mdEscape(sec.doc))
		bw.WriteString("| key | type | default | env | meaning |\n| --- | --- | --- | --- | --- |\n")
		for _, k := range keys {
			if !strings.HasPrefix(k.Name, sec.name+".") {
				continue
			}
			fmt.Fprintf(bw, "| `%s` | %s | `%s` | `%s` | %s |\n", k.Name, k.Type, k.Default, k.Env, mdEscape(k.Doc))
		}
	}
	return bw.Flush()
}

// mdEscape keeps prose from turning into HTML or table cells in Markdown.
var mdEscape = strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", `\|`).Replace
