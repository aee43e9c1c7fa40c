package console

import (
	"net/http"
	"time"
)

type loginData struct {
	Next string
	// NoToken is set when the console has no token: there is nothing to
	// log in with.
	NoToken bool
	Err     string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	p, err := newParams(r.URL.Query(), []string{"next"})
	d := loginData{NoToken: !c.guard.hasToken()}
	if err == nil {
		d.Next, err = parseNext(p.get("next"))
	}
	if err != nil {
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "login", "Log in", "", d)
		return
	}
	c.render(w, r, http.StatusOK, "login", "Log in", "", d)
}

// login compares the posted token with the console's in constant time
// and, when it matches, sets the session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	f, err := parseLoginForm(r.PostForm)
	d := loginData{Next: f.Next, NoToken: !c.guard.hasToken()}
	switch {
	case d.NoToken:
		http.Redirect(w, r, basePath, http.StatusSeeOther)
		return
	case err != nil:
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "login", "Log in", "", d)
		return
	case c.guard.throttled():
		d.Err = "Too many wrong tokens lately; wait a few seconds."
		c.render(w, r, http.StatusTooManyRequests, "login", "Log in", "", d)
		return
	case !c.guard.tokenMatches(f.Token):
		c.guard.wrong()
		c.log.Warn("console: login with a wrong token", "remote", r.RemoteAddr)
		d.Err = "Wrong token."
		c.render(w, r, http.StatusUnauthorized, "login", "Log in", "", d)
		return
	}
	value, expires := c.guard.newSession()
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: value, Path: basePath, Expires: expires,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	c.log.Info("console login", "remote", r.RemoteAddr)
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: "", Path: basePath, Expires: time.Unix(0, 0), MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	c.log.Info("console logout", "remote", r.RemoteAddr)
	http.Redirect(w, r, basePath+"login", http.StatusSeeOther)
}
