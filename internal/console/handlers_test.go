package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

func TestPagesAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	f.send("n1", "hello", false)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{basePath, http.StatusOK, "Readiness"},
		{basePath + "aggregates", http.StatusOK, "Latest events"},
		{basePath + "aggregates?type=note", http.StatusOK, "note n1"},
		{basePath + "aggregates?type=note&id=n1", http.StatusOK, "note.written"},
		{basePath + "projections", http.StatusOK, `data-projection="notes"`},
		{basePath + "dlq", http.StatusOK, "No dead letters"},
		{basePath + "commands", http.StatusOK, `<option value="note.write"`},
		{basePath + "commands?command=note.write", http.StatusOK, `selected`},
		{basePath + "static/console.css", http.StatusOK, "jetflow console"},
		{basePath + "static/console.js", http.StatusOK, "pollRebuild"},
		{basePath + "login", http.StatusOK, "no token"},
		// Not found, and every malformed parameter, say what is wrong.
		{basePath + "nope", http.StatusNotFound, "No such page"},
		{basePath + "static/nope.js", http.StatusNotFound, "No such file"},
		{basePath + "dlq/show?id=99", http.StatusNotFound, "not found"},
		{basePath + "?x=1", http.StatusBadRequest, "takes no parameters"},
		{basePath + "aggregates?type=no.te", http.StatusBadRequest, "type:"},
		{basePath + "aggregates?id=n1", http.StatusBadRequest, "required with id"},
		{basePath + "aggregates?type=note&id=n1&colour=red", http.StatusBadRequest, "colour: unknown parameter"},
		{basePath + "dlq?after=x", http.StatusBadRequest, "after:"},
		{basePath + "dlq?min_age=2h&max_age=1h", http.StatusBadRequest, "nothing would match"},
		{basePath + "dlq/show?id=0", http.StatusBadRequest, "id:"},
		{basePath + "dlq/show?id=1&id=2", http.StatusBadRequest, "given 2 times"},
		{basePath + "projections/confirm?action=explode&name=notes", http.StatusBadRequest, "want rebuild, skip or resume"},
		{basePath + "projections/confirm?action=skip&name=notes", http.StatusBadRequest, "seq: required"},
		{basePath + "projections/confirm?action=rebuild&name=other", http.StatusNotFound, "does not run projection other"},
		{basePath + "projections/rebuild?name=notes", http.StatusNotFound, "No rebuild of notes"},
		{basePath + "commands?command=user", http.StatusBadRequest, "want &lt;aggregate type&gt;.&lt;command&gt;"},
		{basePath + "processes", http.StatusOK, `data-process="reminder"`},
		{basePath + "processes?name=reminder", http.StatusOK, "no instance has started yet"},
		{basePath + "processes?id=r1", http.StatusBadRequest, "required with id"},
		{basePath + "processes?name=re.minder", http.StatusBadRequest, "name:"},
		{basePath + "processes?name=reminder&id=r1&x=1", http.StatusBadRequest, "x: unknown parameter"},
		{basePath + "processes?name=reminder&id=nobody", http.StatusNotFound, "nobody"},
	} {
		r := f.get(tc.path)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s = %d, want %d with %q:\n%.2000s", tc.path, r.status, tc.status, tc.want, r.body)
		}
	}
	r := f.get(basePath)
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if r.header.Get(h) == "" {
			t.Errorf("the overview has no %s header", h)
		}
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP %q allows scripts from elsewhere", r.header.Get("Content-Security-Policy"))
	}
}

// An event's data, metadata and a dead letter's payload and reason are
// shown as text: markup in them never becomes markup of the page.
func TestEventDataIsEscaped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	const evil = `<script>alert("owned")</script>`
	ctx := testCtx(t)
	if _, err := f.store.Append(ctx, "note", "x1", streams.Position{}, streams.Event{
		Type:     "note.written",
		Data:     json.RawMessage(`{"text":"` + strings.ReplaceAll(evil, `"`, `\"`) + `"}`),
		Metadata: streams.Metadata{CausationID: `<img src=x onerror=alert(1)>`, UserID: "<b>root</b>"},
	}); err != nil {
		t.Fatal(err)
	}
	id := f.deadLetter(`{"html":"<script>alert(2)</script>"}`)
	for _, path := range []string{
		basePath + "aggregates?type=note&id=x1",
		basePath + "aggregates?type=note",
		basePath + "aggregates?type=note&id=x1&causation=" + url.QueryEscape(`<img src=x onerror=alert(1)>`),
		basePath + "dlq/show?id=" + strconv.FormatUint(id, 10),
		basePath + "dlq",
	} {
		r := f.get(path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d: %s", path, r.status, r.body)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>root", "<b>not yet"} {
			if strings.Contains(r.body, raw) {
				t.Errorf("GET %s renders %q as markup:\n%s", path, raw, r.body)
			}
		}
	}
	page := f.get(basePath + "aggregates?type=note&id=x1").body
	for _, want := range []string{`&lt;script&gt;alert(\&#34;owned\&#34;)&lt;/script&gt;`, `&lt;img src=x onerror=alert(1)&gt;`, `&lt;b&gt;root&lt;/b&gt;`} {
		if !strings.Contains(page, want) {
			t.Errorf("the aggregate page lacks the escaped %s:\n%s", want, page)
		}
	}
	if dl := f.get(basePath + "dlq/show?id=" + strconv.FormatUint(id, 10)).body; !strings.Contains(dl, `&lt;script&gt;alert(2)&lt;/script&gt;`) ||
		!strings.Contains(dl, `&lt;b&gt;not yet&lt;/b&gt;`) {
		t.Errorf("the dead letter page lacks its escaped payload or reason:\n%s", dl)
	}
}

func TestAggregatePageShowsStateSnapshotAndCausation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	f.send("n2", "one", false)
	f.send("n2", "two", false) // snapshot at version 2
	third := f.send("n2", "three", false)
	r := f.get(basePath + "aggregates?type=note&id=n2")
	for _, want := range []string{`id="agg-version">3<`, `&#34;text&#34;: &#34;three&#34;`, `id="agg-snapshot"`, "version 2, sequence", `class="causation"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("aggregate page lacks %s:\n%s", want, r.body)
		}
	}
	// The causation link of the last event leads to it alone.
	var last streams.Event
	for ev, err := range f.store.Load(testCtx(t), "note", "n2", third.Sequence-1) {
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	r = f.get(basePath + "aggregates?type=note&id=n2&causation=" + url.QueryEscape(last.Metadata.CausationID))
	if n := strings.Count(r.body, `class="event"`); n != 1 || !strings.Contains(r.body, "written by command") {
		t.Errorf("causation page shows %d events, want 1:\n%s", n, r.body)
	}
	// A type no command serves shows its events, without a state.
	if _, err := f.store.Append(testCtx(t), "other", "o1", streams.Position{}, streams.Event{Type: "other.happened", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	r = f.get(basePath + "aggregates?type=other&id=o1")
	if r.status != http.StatusOK || !strings.Contains(r.body, "other.happened") || !strings.Contains(r.body, "no command of this binary serves") {
		t.Errorf("unregistered type page (%d):\n%s", r.status, r.body)
	}
}

func TestTokenGuardsEveryPage(t *testing.T) {
	t.Parallel()
	const token = "a-token-of-32-characters-or-so!!"
	if _, err := New(Config{}, Deps{}); !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("New without a token beyond loopback: %v, want ErrTokenRequired", err)
	}
	f := newFixture(t, Config{Token: token, Loopback: false})
	// Without the token: pages lead to the login form, actions and polls
	// are refused.
	r := f.get(basePath + "aggregates?type=note")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != basePath+"login?next="+url.QueryEscape(basePath+"aggregates?type=note") {
		t.Fatalf("GET without a token = %d %s", r.status, r.header.Get("Location"))
	}
	if r := f.get(basePath + "projections/rebuild.json?name=notes"); r.status != http.StatusUnauthorized {
		t.Errorf("poll without a token = %d", r.status)
	}
	if r := f.get(basePath+"projections", "Authorization", "Bearer wrong-token-of-the-same-size!"); r.status != http.StatusUnauthorized {
		t.Errorf("wrong bearer token = %d", r.status)
	}
	if r := f.get(basePath+"projections", "Authorization", "Bearer "+token); r.status != http.StatusOK {
		t.Errorf("bearer token = %d: %s", r.status, r.body)
	}
	// The login page and the assets answer without it.
	login := f.get(basePath + "login?next=" + url.QueryEscape(basePath+"dlq"))
	if login.status != http.StatusOK || !strings.Contains(login.body, `name="token"`) {
		t.Fatalf("login page = %d:\n%s", login.status, login.body)
	}
	csrf := csrfInput.FindStringSubmatch(login.body)[1]
	if r := f.post(basePath+"login", url.Values{"token": {"nope-nope-nope-nope"}, "next": {basePath + "dlq"}, fieldCSRF: {csrf}}); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong token") {
		t.Errorf("wrong token = %d", r.status)
	}
	if r := f.post(basePath+"login", url.Values{"token": {token}, "next": {"//evil.example/x"}, fieldCSRF: {csrf}}); r.status != http.StatusBadRequest {
		t.Errorf("login to another site = %d, want 400", r.status)
	}
	r = f.post(basePath+"login", url.Values{"token": {token}, "next": {basePath + "dlq"}, fieldCSRF: {csrf}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != basePath+"dlq" {
		t.Fatalf("login = %d %s", r.status, r.header.Get("Location"))
	}
	if r := f.get(basePath + "dlq"); r.status != http.StatusOK || !strings.Contains(r.body, "Log out") {
		t.Fatalf("after login: %d", r.status)
	}
	if !strings.Contains(f.logs.String(), "console login") || !strings.Contains(f.logs.String(), "login with a wrong token") {
		t.Errorf("logins not logged:\n%s", f.logs.String())
	}
	if r := f.post(basePath+"logout", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.status)
	}
	if r := f.get(basePath + "dlq"); r.status != http.StatusSeeOther {
		t.Errorf("after logout = %d, want the login form", r.status)
	}
	// A forged session cookie is not a session.
	u, _ := url.Parse(f.srv.URL + basePath)
	f.http.Jar.SetCookies(u, []*http.Cookie{{Name: cookieSession, Value: "v1.99999999999.forged", Path: basePath}})
	if r := f.get(basePath + "dlq"); r.status != http.StatusSeeOther {
		t.Errorf("forged session = %d", r.status)
	}
}

func TestWrongTokensAreThrottled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Token: "0123456789abcdef0123", Loopback: true})
	statuses := map[int]int{}
	for range 15 {
		statuses[f.get(basePath, "Authorization", "Bearer guess-guess-guess-guess").status]++
	}
	if statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("15 wrong tokens at once answered %v, want some 401 then 429", statuses)
	}
}

func TestLoopbackWithoutTokenRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+basePath, nil)
	req.Host = "rebound.example.com"
	if r := f.do(req); r.status != http.StatusForbidden || !strings.Contains(r.body, "not this machine") {
		t.Errorf("Host rebound.example.com = %d", r.status)
	}
	req.Host = "localhost:1234"
	if r := f.do(req); r.status != http.StatusOK {
		t.Errorf("Host localhost = %d", r.status)
	}
}

func TestStateChangesNeedCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	form := func() url.Values {
		return url.Values{"command": {"note.write"}, "body": {`{"id":"c1","text":"hi"}`}}
	}
	// No token, another cookie's token, a GET, a cross-site POST.
	if r := f.post(basePath+"commands", url.Values{"command": {"note.write"}, "body": {`{}`}, fieldCSRF: {""}}); r.status != http.StatusForbidden {
		t.Errorf("POST without a CSRF token = %d", r.status)
	}
	f.csrf() // sets the cookie
	var nonce string
	u, _ := url.Parse(f.srv.URL + basePath)
	for _, c := range f.http.Jar.Cookies(u) {
		if c.Name == cookieCSRF {
			nonce = c.Value
		}
	}
	forged := (&guard{key: []byte("another console's key")}).sign("csrf", nonce)
	if r := f.post(basePath+"commands", url.Values{"command": {"note.write"}, "body": {`{}`}, fieldCSRF: {forged}}); nonce == "" || r.status != http.StatusForbidden {
		t.Errorf("POST with a token signed by another key = %d (cookie %q)", r.status, nonce)
	}
	good := form()
	good.Set(fieldCSRF, f.csrf())
	if r := f.post(basePath+"commands", good, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST = %d", r.status)
	}
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+basePath+"commands", nil)
	if r := f.do(req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT = %d", r.status)
	}
	// Nothing was written by any of them.
	for range f.store.Load(testCtx(t), "note", "c1", 0) {
		t.Fatal("a refused POST wrote an event")
	}
	if !strings.Contains(f.logs.String(), "without a valid CSRF token") {
		t.Errorf("refusals not logged:\n%s", f.logs.String())
	}
	if r := f.post(basePath+"commands", form()); r.status != http.StatusOK || !strings.Contains(r.body, "note.written") {
		t.Errorf("POST with the token = %d:\n%s", r.status, r.body)
	}
}

func TestSendCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	form := url.Values{"command": {"note.write"}, "body": {`{"id":"s1","text":"from the console"}`}, "command_id": {"console-s1"}}
	r := f.post(basePath+"commands", form)
	for _, want := range []string{`id="reply"`, `&#34;aggregate_id&#34;: &#34;s1&#34;`, "note.written", "from the console", `id="aggregate-link"`, "console-s1"} {
		if r.status != http.StatusOK || !strings.Contains(r.body, want) {
			t.Errorf("send = %d, lacks %s:\n%s", r.status, want, r.body)
		}
	}
	if !strings.Contains(f.logs.String(), "action=\"send command\"") || !strings.Contains(f.logs.String(), "command_id=console-s1") {
		t.Errorf("send not logged:\n%s", f.logs.String())
	}
	// The same form again: answered from the first run, nothing new.
	r = f.post(basePath+"commands", form)
	if !strings.Contains(r.body, "A resend of command") || strings.Count(r.body, `class="event"`) != 1 {
		t.Errorf("resend:\n%s", r.body)
	}
	n := 0
	for range f.store.Load(testCtx(t), "note", "s1", 0) {
		n++
	}
	if n != 1 {
		t.Errorf("s1 has %d events after a resend, want 1", n)
	}
	for _, tc := range []struct {
		form   url.Values
		status int
		want   string
	}{
		{url.Values{"command": {"note.write"}, "body": {`{"id":"s2","text":""}`}}, http.StatusOK, "400 validation"},
		{url.Values{"command": {"note.write"}, "body": {`{"id":"s2",`}}, http.StatusBadRequest, "not valid JSON"},
		{url.Values{"command": {"note.erase"}, "body": {`{}`}}, http.StatusBadRequest, "not a command this binary serves"},
		{url.Values{"command": {"note.write"}, "body": {`{}`}, "expected_version": {"-1"}}, http.StatusBadRequest, "expected_version"},
		{url.Values{"command": {"note.write"}, "body": {`{}`}, "sneaky": {"1"}}, http.StatusBadRequest, "sneaky: unknown parameter"},
		{url.Values{"command": {"note.write"}, "body": {`{"id":"s1","text":"again"}`}, "expected_version": {"7"}}, http.StatusOK, "409 conflict"},
	} {
		if r := f.post(basePath+"commands", tc.form); r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("POST %v = %d, want %d with %q:\n%.1500s", tc.form, r.status, tc.status, tc.want, r.body)
		}
	}
}

func TestProjectionRebuildSkipResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	for i := range 20 {
		f.send("p"+strconv.Itoa(i), "fine", false)
	}
	poisoned := f.send("bad", "poison", true)
	waitFor(t, "the projection to fail", func() bool {
		return strings.Contains(f.get(basePath+"projections").body, "state-failed")
	})
	page := f.get(basePath + "projections").body
	skipLink := "projections/confirm?action=skip&amp;name=notes&amp;seq=" + strconv.FormatUint(poisoned.Sequence, 10)
	if !strings.Contains(page, skipLink) || !strings.Contains(page, "poison: this note cannot be projected") {
		t.Fatalf("the failed projection offers no skip of %d:\n%s", poisoned.Sequence, page)
	}
	// Resume retries (and fails again); skipping another event is refused.
	if r := f.get(basePath + "projections/confirm?action=resume&name=notes"); r.status != http.StatusOK || !strings.Contains(r.body, "Retry the event") {
		t.Fatalf("resume confirmation = %d", r.status)
	}
	if r := f.post(basePath+"projections/resume", url.Values{"name": {"notes"}}); r.status != http.StatusSeeOther {
		t.Fatalf("resume = %d: %s", r.status, r.body)
	}
	failedAgain := func() bool {
		for _, s := range f.runner.Statuses() {
			if s.State == projections.StateFailed && s.Failure != nil && s.Failure.Sequence == poisoned.Sequence {
				return true
			}
		}
		return false
	}
	waitFor(t, "the resumed projection to fail again", failedAgain)
	if r := f.post(basePath+"projections/skip", url.Values{"name": {"notes"}, "seq": {"1"}}); r.status != http.StatusConflict || !strings.Contains(r.body, "nothing was changed") {
		t.Fatalf("skip of an event it did not fail at = %d: %s", r.status, r.body)
	}
	if r := f.post(basePath+"projections/skip", url.Values{"name": {"ghost"}, "seq": {"1"}}); r.status != http.StatusNotFound {
		t.Errorf("skip of an unknown projection = %d: %s", r.status, r.body)
	}
	if r := f.get(basePath + "projections/confirm?action=skip&name=notes&seq=" + strconv.FormatUint(poisoned.Sequence, 10)); r.status != http.StatusOK || !strings.Contains(r.body, "Yes, skip notes") {
		t.Fatalf("skip confirmation = %d", r.status)
	}
	// The resumed projection may be between its retry and its new
	// failure: a skip then is refused, and is asked again.
	var r response
	waitFor(t, "the skip to be accepted", func() bool {
		r = f.post(basePath+"projections/skip", url.Values{"name": {"notes"}, "seq": {strconv.FormatUint(poisoned.Sequence, 10)}})
		return r.status == http.StatusSeeOther
	})
	waitFor(t, "the projection to run again", func() bool {
		for _, s := range f.runner.Statuses() {
			if s.State == projections.StateRunning && s.LastApplied >= poisoned.Sequence {
				return true
			}
		}
		return false
	})
	// A rebuild: the poll reaches 100 % once done; a second start while it
	// runs joins it.
	if r := f.get(basePath + "projections/confirm?action=rebuild&name=notes"); r.status != http.StatusOK {
		t.Fatalf("rebuild confirmation = %d", r.status)
	}
	r = f.post(basePath+"projections/rebuild", url.Values{"name": {"notes"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != basePath+"projections/rebuild?name=notes" {
		t.Fatalf("rebuild = %d %s: %s", r.status, r.header.Get("Location"), r.body)
	}
	var st RebuildStatus
	waitFor(t, "the rebuild to finish", func() bool {
		r := f.get(basePath + "projections/rebuild.json?name=notes")
		return r.status == http.StatusOK && json.Unmarshal([]byte(r.body), &st) == nil && st.Finished
	})
	// The poisoned event fails the rebuild too (a skip holds for the
	// generation that failed): the page says so and never shows 100 %.
	if st.Error == "" || st.Percent == 100 {
		t.Fatalf("rebuild over a poisoned event: %+v", st)
	}
	if r := f.get(basePath + "projections/rebuild?name=notes"); r.status != http.StatusOK || !strings.Contains(r.body, "poison") {
		t.Errorf("rebuild page:\n%s", r.body)
	}
	logs := f.logs.String()
	for _, want := range []string{`action="projection resume"`, `action="projection skip"`, `action="projection rebuild"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestRebuildReachesHundredPercent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	for i := range 50 {
		f.send("r"+strconv.Itoa(i), "fine", false)
	}
	if r := f.post(basePath+"projections/rebuild", url.Values{"name": {"notes"}}); r.status != http.StatusSeeOther {
		t.Fatalf("rebuild = %d: %s", r.status, r.body)
	}
	var st RebuildStatus
	waitFor(t, "the rebuild to finish", func() bool {
		r := f.get(basePath + "projections/rebuild.json?name=notes")
		return json.Unmarshal([]byte(r.body), &st) == nil && st.Finished
	})
	if st.Error != "" || st.Percent != 100 || st.Phase != "done" || st.Done != 50 || st.Generation != 2 || st.Bucket != "rm_notes_g2" {
		t.Fatalf("finished rebuild: %+v", st)
	}
	if r := f.get(basePath + "projections"); !strings.Contains(r.body, "rm_notes_g2") || !strings.Contains(r.body, "last rebuild done") {
		t.Errorf("projections page after the rebuild:\n%s", r.body)
	}
}

func TestDeadLetterReplayAndDiscard(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	first := f.deadLetter(`{"job":1}`)
	second := f.deadLetter(`{"job":2}`)
	ids := func(ns ...uint64) []string {
		var out []string
		for _, n := range ns {
			out = append(out, strconv.FormatUint(n, 10))
		}
		return out
	}
	list := f.get(basePath + "dlq?topic=jobs&reason=REFUSED&max_age=1h")
	if list.status != http.StatusOK || strings.Count(list.body, `class="pick"`) != 2 || !strings.Contains(list.body, "topic.jobs.normal.job.run") {
		t.Fatalf("filtered list (%d):\n%s", list.status, list.body)
	}
	for _, q := range []string{"topic=other", "subscription=nobody", "stream=EVENTS", "consumer=x", "subject=order", "reason=timeout", "min_age=1h"} {
		if r := f.get(basePath + "dlq?" + q); r.status != http.StatusOK || strings.Contains(r.body, `class="pick"`) {
			t.Errorf("dlq?%s lists dead letters it should not (%d)", q, r.status)
		}
	}
	// A dry run changes nothing and offers the real run.
	r := f.post(basePath+"dlq/replay", url.Values{"id": ids(first, second), "dry_run": {"true"}})
	if r.status != http.StatusOK || strings.Count(r.body, "would replay") != 2 || !strings.Contains(r.body, `id="replay-confirm"`) {
		t.Fatalf("dry run (%d):\n%s", r.status, r.body)
	}
	if got := len(mustList(t, f)); got != 2 {
		t.Fatalf("a dry run removed dead letters: %d left", got)
	}
	r = f.post(basePath+"dlq/replay", url.Values{"id": ids(first), "dry_run": {"false"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Replayed 1 of 1") {
		t.Fatalf("replay (%d):\n%s", r.status, r.body)
	}
	if left := mustList(t, f); len(left) != 1 || left[0].ID != second {
		t.Fatalf("after the replay: %+v", left)
	}
	if !strings.Contains(f.logs.String(), `action="dlq replay"`) {
		t.Errorf("replay not logged:\n%s", f.logs.String())
	}
	// Discard asks first.
	if r := f.get(basePath + "dlq/discard?id=" + ids(second)[0]); r.status != http.StatusOK || !strings.Contains(r.body, "for good") {
		t.Fatalf("discard confirmation = %d", r.status)
	}
	if r := f.post(basePath+"dlq/discard", url.Values{"id": ids(second)}); r.status != http.StatusSeeOther {
		t.Fatalf("discard = %d: %s", r.status, r.body)
	}
	if left := mustList(t, f); len(left) != 0 {
		t.Fatalf("after the discard: %+v", left)
	}
	for _, tc := range []struct {
		form url.Values
		code int
	}{
		{url.Values{"id": ids(second), "dry_run": {"maybe"}}, http.StatusBadRequest},
		{url.Values{"dry_run": {"true"}}, http.StatusBadRequest},
		{url.Values{"id": {"0"}, "dry_run": {"true"}}, http.StatusBadRequest},
	} {
		if r := f.post(basePath+"dlq/replay", tc.form); r.status != tc.code {
			t.Errorf("replay %v = %d, want %d", tc.form, r.status, tc.code)
		}
	}
	if r := f.post(basePath+"dlq/replay", url.Values{"id": ids(second), "dry_run": {"true"}}); !strings.Contains(r.body, "not replayed") {
		t.Errorf("replay of a discarded dead letter:\n%s", r.body)
	}
}

func mustList(t *testing.T, f *fixture) []consumers.DeadLetter {
	t.Helper()
	list, err := consumers.NewDLQ(f.js, consumers.DLQConfig{}).List(testCtx(t), consumers.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestOverviewShowsRatesAndChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true, SampleEvery: 50 * time.Millisecond})
	f.send("o1", "a", false)
	f.send("o2", "b", false)
	var body string
	waitFor(t, "two samples", func() bool {
		body = f.get(basePath).body
		return strings.Contains(body, `id="commands-rate"`)
	})
	for _, want := range []string{"embedded server in this process", `id="stream-msgs">2<`, "<svg", `class="big ok" id="readiness">ready`, `data-projection="notes"`} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %s:\n%s", want, body)
		}
	}
}

// Before Start and after Stop the pages answer 503, never a half-built
// console.
func TestNotRunningAnswers503(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	if err := f.c.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if r := f.get(basePath + "projections"); r.status != http.StatusServiceUnavailable {
		t.Errorf("after Stop = %d", r.status)
	}
	select {
	case <-f.c.Done():
	default:
		t.Error("Done not closed after Stop")
	}
}
