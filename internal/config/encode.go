package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Encode writes c as a TuskLang document that Decode reads back to c:
// every section and key in schema order, named entries sorted by name.
// A program's own sections, which no reference file describes, come with
// each key's documentation, default and variable as comments. It is what
// `jetflow config check` prints.
func Encode(w io.Writer, c Config) error {
	bw := bufio.NewWriter(w)
	first := true
	for _, sec := range c.spec().sections {
		entries := []string{""}
		if sec.named {
			entries = sec.entries(c)
		}
		for _, entry := range entries {
			if sec.named && !isName(entry) {
				return &FieldError{Key: sec.name + "." + entry, Msg: "name cannot be written as a [section.name] header", Err: ErrInvalid}
			}
			if !first {
				bw.WriteByte('\n')
			}
			first = false
			writeSection(bw, sec, entry, sec.read(&c, entry), "")
		}
	}
	return bw.Flush()
}

// Format returns Encode's document.
func Format(c Config) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeSection writes a header and its keys, each line after prefix (the
// reference writes commented-out examples with "# ").
func writeSection(w *bufio.Writer, sec sectionSpec, entry string, section any, prefix string) {
	header := sec.name
	if sec.named {
		header += "." + entry
	}
	fmt.Fprintf(w, "%s[%s]\n", prefix, header)
	width := 0
	for _, k := range sec.keys {
		width = max(width, len(k.name))
	}
	var def any
	if sec.extra {
		def = sec.def(entry)
	}
	for _, k := range sec.keys {
		if sec.extra {
			writeComment(w, "", keyComment(sec, k, def))
		}
		fmt.Fprintf(w, "%s%-*s %s\n", prefix, width+1, k.name+":", formatValue(k.ptr(section)))
	}
}

// keyComment documents a key of a program's section as the reference
// documents the platform's: what it does, its default and its variable.
func keyComment(sec sectionSpec, k keySpec, def any) string {
	d := formatValue(k.ptr(def))
	if p, ok := k.ptr(def).(*string); ok && k.secret && *p != "" {
		d = quote(redacted)
	}
	text := fmt.Sprintf("Default %s; env %s.", d, EnvName(sec.name+"."+k.name))
	if k.doc != "" {
		text = strings.TrimSpace(k.doc) + " " + text
	}
	return text
}

// formatValue writes the value a field pointer points to as TuskLang.
func formatValue(ptr any) string {
	switch p := ptr.(type) {
	case *string:
		return quote(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return formatFloat(*p)
	case *bool:
		return strconv.FormatBool(*p)
	case *time.Duration:
		return quote(formatDuration(*p))
	case *[]string:
		items := make([]string, len(*p))
		for i, s := range *p {
			items[i] = quote(s)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case *[]time.Duration:
		items := make([]string, len(*p))
		for i, d := range *p {
			items[i] = quote(formatDuration(d))
		}
		return "[" + strings.Join(items, ", ") + "]"
	case *any:
		switch v := (*p).(type) {
		case nil:
			return "null"
		case string:
			return quote(v)
		case int64:
			return strconv.FormatInt(v, 10)
		case int:
			return strconv.Itoa(v)
		case float64:
			return formatFloat(v)
		case bool:
			return strconv.FormatBool(v)
		default:
			return quote(fmt.Sprint(v))
		}
	}
	return "null"
}

// formatDuration writes d as time.ParseDuration reads it, without the
// "0s" and "0m" tails of Duration.String: "2m", "168h", "1h30m".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// quote writes s as a double-quoted TuskLang string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			// Invalid UTF-8 cannot be written; Set refuses it, so only a
			// Config built in Go code can get here.
			b.WriteString(`\uFFFD`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
