package jetflowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// marshal encodes v as JSON; a json.RawMessage must already be JSON.
func marshal(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("json.RawMessage %q is not valid JSON", truncate(string(raw), 80))
		}
		return raw, nil
	}
	return json.Marshal(v)
}

// jsonValue is one JSON document decoded for comparison: its value with
// numbers normalized, and its canonical text (object keys sorted).
type jsonValue struct {
	value any
	text  string
	// bad holds the raw bytes of a document that is not JSON, shown as
	// they are; it equals only the same bytes.
	bad []byte
}

func (v jsonValue) String() string {
	if v.bad != nil {
		return fmt.Sprintf("%q (not JSON)", truncate(string(v.bad), 200))
	}
	return v.text
}

func (v jsonValue) equal(o jsonValue) bool {
	if v.bad != nil || o.bad != nil {
		return v.bad != nil && o.bad != nil && bytes.Equal(v.bad, o.bad)
	}
	return v.text == o.text
}

// decodeJSON decodes a JSON document for comparison.
func decodeJSON(raw []byte) jsonValue {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return jsonValue{bad: append([]byte{}, raw...)}
	}
	v = normalize(v)
	return jsonValue{value: v, text: encode(v)}
}

// showJSON is raw as canonical JSON, for messages.
func showJSON(raw []byte) string { return decodeJSON(raw).String() }

// normalize writes numbers in one form, so 1, 1.0 and 1e0 compare equal.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case json.Number:
		s := x.String()
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return x
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return v
}

// encode writes v as compact JSON with sorted keys and without HTML escapes.
func encode(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maxDiffLines bounds the field differences listed for one document.
const maxDiffLines = 10

// jsonDiff lists where got differs from want, one line per field, as
// "amount: expected 30, actual 20"; at most maxDiffLines lines.
func jsonDiff(want, got jsonValue) []string {
	if want.bad != nil || got.bad != nil {
		return nil
	}
	var lines []string
	diffValue("", want.value, got.value, &lines)
	if len(lines) > maxDiffLines {
		lines = append(lines[:maxDiffLines], fmt.Sprintf("... and %d more", len(lines)-maxDiffLines))
	}
	return lines
}

func diffValue(path string, want, got any, lines *[]string) {
	if len(*lines) > maxDiffLines {
		return
	}
	at := path
	if at == "" {
		at = "(whole value)"
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			wv, inWant := w[k]
			gv, inGot := g[k]
			p := joinPath(path, k)
			switch {
			case !inGot:
				*lines = append(*lines, fmt.Sprintf("%s: missing, expected %s", p, encode(wv)))
			case !inWant:
				*lines = append(*lines, fmt.Sprintf("%s: unexpected %s", p, encode(gv)))
			default:
				diffValue(p, wv, gv, lines)
			}
		}
		return
	case []any:
		g, ok := got.([]any)
		if !ok {
			break
		}
		if len(w) != len(g) {
			*lines = append(*lines, fmt.Sprintf("%s: %d items, expected %d", at, len(g), len(w)))
		}
		for i := range min(len(w), len(g)) {
			diffValue(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], lines)
		}
		return
	}
	if encode(want) != encode(got) {
		*lines = append(*lines, fmt.Sprintf("%s: expected %s, actual %s", at, encode(want), encode(got)))
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
