package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// The pages are html/template files and the stylesheet and script are
// plain files, all embedded: no build step, and nothing loaded from
// anywhere but the console itself. html/template escapes every value
// for where it lands (text, attribute, URL), so an event's data holding
// "<script>" renders as text.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css static/console.js
var staticFS embed.FS

// templates holds each page parsed with the layout.
type templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"pretty":  prettyJSON,
	"utc":     func(t time.Time) string { return formatTime(t) },
	"ago":     func(t time.Time) string { return ago(time.Since(t)) },
	"bytes":   humanBytes,
	"percent": percent,
	"join":    strings.Join,
	"short":   short,
	// events passes a list of events and the console's root to the
	// events-table partial.
	"events": func(base string, evs []eventView) eventsBlock { return eventsBlock{Base: base, Events: evs} },
}

type eventsBlock struct {
	Base   string
	Events []eventView
}

func parseTemplates() (*templates, error) {
	// The layout and the partials (tables several pages show) go with
	// every page.
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		clone, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("console: templates: %w", err)
		}
		if t.pages[name], err = clone.ParseFS(templateFS, n); err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
	}
	return t, nil
}

// static serves the embedded stylesheet and script.
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	data, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "No such file.")
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	// Revalidated on each load: a new binary's files are used at once.
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(data)
}

// page is what the layout renders around a page's content.
type page struct {
	Title string
	// Nav is the menu entry to mark as current.
	Nav  string
	Base string
	// CSRF is the token the page's forms post.
	CSRF string
	// LoggedIn shows the log-out button (a login session, not a bearer
	// header or loopback without a token).
	LoggedIn bool
	Data     any
}

// render writes the named page with data.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	t, ok := c.pages.pages[name]
	if !ok {
		c.log.Error("console: no such template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	a := authOf(r.Context())
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", page{
		Title: title, Nav: nav, Base: basePath, CSRF: a.csrf, LoggedIn: a.method == authSession, Data: data,
	}); err != nil {
		c.log.Error("console: render", "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Message string
}

// fail answers status with a page that says msg.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasSuffix(r.URL.Path, ".json") {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	c.render(w, r, status, "error", http.StatusText(status), "", errorData{Status: status, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// prettyJSON indents JSON for reading; anything else is shown as it is
// (text), or quoted when it is not UTF-8.
func prettyJSON(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if json.Valid(data) && json.Indent(&buf, data, "", "  ") == nil {
		return buf.String()
	}
	if utf8.Valid(data) {
		return string(data)
	}
	return fmt.Sprintf("%q", data)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// percent is done of total, whole, and never 100 before finished: 100 %
// means the work is over.
func percent(done, total uint64, finished bool) int {
	if finished {
		return 100
	}
	if total == 0 {
		return 0
	}
	return min(int(done*100/total), 99)
}
