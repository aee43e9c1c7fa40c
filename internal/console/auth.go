package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// The console can change things (rebuilds, replays, commands), so every
// request passes the guard:
//
//   - With a token configured, a request carries it as a bearer header, or
//     the session cookie the login form sets after comparing the token in
//     constant time; anything else goes to the login form (pages) or is
//     refused 401. Without a token the console must listen on loopback only
//     (New refuses otherwise), and then answers only requests whose Host is
//     a loopback name: a web page cannot reach it by rebinding a DNS name
//     of its own to 127.0.0.1.
//   - Every state-changing action is a POST that carries a CSRF token: an
//     HMAC of a random cookie (SameSite=Strict, HttpOnly) under the
//     console's key, so another site can neither read it nor forge it; and
//     http.CrossOriginProtection refuses cross-origin POSTs before that.

// ErrTokenRequired is New's refusal to run a console reachable from
// beyond loopback without a token.
var ErrTokenRequired = errors.New("console: a token is required when the console listens on anything but loopback")

const (
	// basePath is where the console is mounted, on its own address as on
	// the metrics address.
	basePath      = "/ui/"
	cookieSession = "jetflow_console_session"
	cookieCSRF    = "jetflow_console_csrf"
	sessionTTL    = 12 * time.Hour
)

// authMethod says how a request was let in, for the audit log.
type authMethod string

const (
	authNone     authMethod = ""
	authSession  authMethod = "token (login session)"
	authBearer   authMethod = "token (bearer header)"
	authLoopback authMethod = "loopback, no token configured"
)

type ctxKey struct{}

// requestAuth is what the guard learnt about a request.
type requestAuth struct {
	method authMethod
	// csrf is the token the request's forms must post back.
	csrf string
}

func authOf(ctx context.Context) requestAuth {
	a, _ := ctx.Value(ctxKey{}).(requestAuth)
	return a
}

// guard authenticates requests and checks CSRF tokens.
type guard struct {
	// tokenSum is the SHA-256 of the token; nil when none is configured.
	tokenSum []byte
	// key signs sessions and CSRF tokens. Derived from the token, so that
	// sessions outlive a restart and hold on every instance behind one
	// address; random when there is no token.
	key []byte
	// failures throttles wrong tokens: a few tries at once, then one a
	// second (a token of 16 characters or more is far beyond guessing at
	// that rate).
	failures *rate.Limiter
	now      func() time.Time
	log      *slog.Logger
	// maxForm bounds a form body.
	maxForm int64
}

func newGuard(token string, loopback bool, maxForm int64, log *slog.Logger) (*guard, error) {
	g := &guard{failures: rate.NewLimiter(rate.Every(time.Second), 10), now: time.Now, log: log, maxForm: maxForm}
	if token == "" {
		if !loopback {
			return nil, ErrTokenRequired
		}
		g.key = make([]byte, 32)
		if _, err := rand.Read(g.key); err != nil {
			return nil, fmt.Errorf("console: session key: %w", err)
		}
		return g, nil
	}
	sum := sha256.Sum256([]byte(token))
	g.tokenSum = sum[:]
	mac := hmac.New(sha256.New, []byte("jetflow console key v1"))
	mac.Write([]byte(token))
	g.key = mac.Sum(nil)
	return g, nil
}

func (g *guard) hasToken() bool { return g.tokenSum != nil }

// tokenMatches compares a presented token with the configured one in
// constant time: both are hashed first, so neither the content nor the
// length of the configured token shows in the timing.
func (g *guard) tokenMatches(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], g.tokenSum) == 1
}

// throttled reports whether too many wrong tokens came lately; a wrong
// token spends one allowance (wrong), a right one none.
func (g *guard) throttled() bool { return g.failures.TokensAt(g.now()) < 1 }

func (g *guard) wrong() { g.failures.AllowN(g.now(), 1) }

func (g *guard) sign(parts ...string) string {
	mac := hmac.New(sha256.New, g.key)
	mac.Write([]byte(strings.Join(parts, "|")))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// newSession is a session cookie's value: its expiry, signed.
func (g *guard) newSession() (value string, expires time.Time) {
	expires = g.now().Add(sessionTTL)
	exp := strconv.FormatInt(expires.Unix(), 10)
	return "v1." + exp + "." + g.sign("session", "v1", exp), expires
}

func (g *guard) validSession(value string) bool {
	parts := strings.Split(value, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !hmac.Equal([]byte(parts[2]), []byte(g.sign("session", "v1", parts[1]))) {
		return false
	}
	return g.now().Before(time.Unix(exp, 0))
}

// authenticate says how r is let in; authNone when it is not.
func (g *guard) authenticate(r *http.Request) authMethod {
	if !g.hasToken() {
		return authLoopback
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && !g.throttled() {
			if g.tokenMatches(strings.TrimSpace(tok)) {
				return authBearer
			}
			g.wrong()
			g.log.Warn("console: wrong bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
		}
		return authNone
	}
	if c, err := r.Cookie(cookieSession); err == nil && g.validSession(c.Value) {
		return authSession
	}
	return authNone
}

// csrfToken returns the token r's forms post back, setting the cookie it
// is derived from when r has none.
func (g *guard) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(cookieCSRF); err == nil && validNonce(c.Value) {
		return g.sign("csrf", c.Value), nil
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: csrf nonce: %w", err)
	}
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: cookieCSRF, Value: nonce, Path: basePath, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return g.sign("csrf", nonce), nil
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 18
}

// csrfValid checks the token a POST carries against its cookie.
func (g *guard) csrfValid(r *http.Request, posted string) bool {
	c, err := r.Cookie(cookieCSRF)
	if err != nil || !validNonce(c.Value) || posted == "" {
		return false
	}
	return hmac.Equal([]byte(posted), []byte(g.sign("csrf", c.Value)))
}

// loopbackHost reports whether a request's Host names this machine.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// public paths are answered without authentication: the login form and
// the stylesheet and script it uses.
func public(path string) bool {
	return path == basePath+"login" || strings.HasPrefix(path, basePath+"static/")
}

// wrap puts h behind the guard.
func (g *guard) wrap(h http.Handler, fail func(w http.ResponseWriter, r *http.Request, status int, msg string)) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hasToken() && !loopbackHost(r.Host) {
			fail(w, r, http.StatusForbidden, fmt.Sprintf("Host %q is not this machine: without a token the console answers only on 127.0.0.1, [::1] or localhost.", clip(r.Host)))
			return
		}
		method := g.authenticate(r)
		if method == authNone && !public(r.URL.Path) {
			if g.throttled() {
				fail(w, r, http.StatusTooManyRequests, "Too many wrong tokens lately; wait a few seconds.")
				return
			}
			if r.Header.Get("Authorization") != "" {
				// A script, not a browser: no login form for it.
				fail(w, r, http.StatusUnauthorized, "Wrong token.")
				return
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				if strings.HasSuffix(r.URL.Path, ".json") {
					fail(w, r, http.StatusUnauthorized, "Log in first.")
					return
				}
				http.Redirect(w, r, basePath+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			fail(w, r, http.StatusUnauthorized, "Log in first: this action needs the console token.")
			return
		}
		ra := requestAuth{method: method}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			tok, err := g.csrfToken(w, r)
			if err != nil {
				fail(w, r, http.StatusInternalServerError, err.Error())
				return
			}
			ra.csrf = tok
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, g.maxForm)
			if err := r.ParseForm(); err != nil {
				status := http.StatusBadRequest
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					status = http.StatusRequestEntityTooLarge
				}
				fail(w, r, status, "Unreadable form: "+err.Error())
				return
			}
			if !g.csrfValid(r, r.PostForm.Get(fieldCSRF)) {
				g.log.Warn("console: POST without a valid CSRF token refused", "remote", r.RemoteAddr, "path", r.URL.Path)
				fail(w, r, http.StatusForbidden, "Missing or stale form token (CSRF): reload the page and try again.")
				return
			}
			// The token stays valid for the page this POST renders.
			ra.csrf = r.PostForm.Get(fieldCSRF)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			fail(w, r, http.StatusMethodNotAllowed, "Method not allowed.")
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ra)))
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.log.Warn("console: cross-origin POST refused", "remote", r.RemoteAddr, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		fail(w, r, http.StatusForbidden, "Cross-origin request refused.")
	}))
	return securityHeaders(cop.Handler(inner))
}

// securityHeaders keep the console's pages to themselves: no script,
// style or frame from anywhere else, no framing by other sites, no
// caching of pages that show data.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, basePath+"static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}
