package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/jetflow/jetflow/projections"
)

// Actions on a projection: what `jetflow projections rebuild|skip|resume`
// do, through the same projections.Admin.
const (
	actionRebuild = "rebuild"
	actionSkip    = "skip"
	actionResume  = "resume"
)

type projectionsData struct {
	Rows []projectionRow
	Err  string
}

func (c *Console) projectionsPage(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		c.fail(w, r, http.StatusBadRequest, "The projections page takes no parameters.")
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	rows, err := c.projectionRows(ctx)
	d := projectionsData{Rows: rows}
	if err != nil {
		d.Err = err.Error()
	}
	c.render(w, r, http.StatusOK, "projections", "Projections", "projections", d)
}

// registered returns the projection called name as serve runs it.
func (c *Console) registered(name string) (projections.Projection, bool) {
	for _, p := range c.deps.Projections {
		if p.Name == name {
			return p, true
		}
	}
	return projections.Projection{}, false
}

type confirmData struct {
	Action string
	Name   string
	Seq    uint64
	// What says what the action does, Why when to use it.
	What, Why string
}

// projectionConfirm asks before a skip, a resume or a rebuild.
func (c *Console) projectionConfirm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	action := q.Get("action")
	q.Del("action")
	d := confirmData{Action: action}
	switch action {
	case actionRebuild:
		d.What = "Build a new generation of the read model into a fresh bucket from the first event, then switch queries to it."
		d.Why = "The current generation keeps serving while the new one is built; progress shows on the next page."
	case actionSkip:
		d.What = "Acknowledge the event the projection failed at without applying it: the read model will never reflect it."
		d.Why = "Use it when the event cannot be applied and should not be; fix the handler and resume instead when it should."
	case actionResume:
		d.What = "Retry the event the projection failed at."
		d.Why = "Use it once the cause is fixed (a deployment with a fixed handler, a resource back)."
	default:
		c.fail(w, r, http.StatusBadRequest, "action: want rebuild, skip or resume.")
		return
	}
	a, err := parseProjectionAction(q, action)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	d.Name, d.Seq = a.Name, a.Seq
	if _, ok := c.registered(a.Name); !ok && action == actionRebuild {
		c.fail(w, r, http.StatusNotFound, "This binary does not run projection "+a.Name+", so it cannot rebuild it.")
		return
	}
	c.render(w, r, http.StatusOK, "confirm", "Confirm "+action, "projections", d)
}

func (c *Console) projectionRebuild(w http.ResponseWriter, r *http.Request) {
	a, err := parseProjectionAction(r.PostForm, actionRebuild)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	p, ok := c.registered(a.Name)
	if !ok {
		c.fail(w, r, http.StatusNotFound, "This binary does not run projection "+a.Name+", so it cannot rebuild it.")
		return
	}
	_, jobs, err := c.live()
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	if _, started := jobs.start(p); started {
		c.audit(r, "projection rebuild", "projection", a.Name)
	}
	http.Redirect(w, r, basePath+"projections/rebuild?"+url.Values{"name": {a.Name}}.Encode(), http.StatusSeeOther)
}

func (c *Console) projectionSkip(w http.ResponseWriter, r *http.Request) {
	a, err := parseProjectionAction(r.PostForm, actionSkip)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	admin, _, err := c.live()
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	c.audit(r, "projection skip", "projection", a.Name, "sequence", a.Seq)
	if _, err := admin.Skip(ctx, a.Name, a.Seq); err != nil {
		c.log.Warn("console: skip refused", "projection", a.Name, "sequence", a.Seq, "error", err)
		c.fail(w, r, projectionStatus(err), err.Error()+" (nothing was changed)")
		return
	}
	http.Redirect(w, r, basePath+"projections", http.StatusSeeOther)
}

func (c *Console) projectionResume(w http.ResponseWriter, r *http.Request) {
	a, err := parseProjectionAction(r.PostForm, actionResume)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	admin, _, err := c.live()
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	c.audit(r, "projection resume", "projection", a.Name)
	if _, err := admin.Resume(ctx, a.Name); err != nil {
		c.log.Warn("console: resume failed", "projection", a.Name, "error", err)
		c.fail(w, r, projectionStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, basePath+"projections", http.StatusSeeOther)
}

func projectionStatus(err error) int {
	switch {
	case errors.Is(err, projections.ErrUnknownProjection):
		return http.StatusNotFound
	case errors.Is(err, projections.ErrSkipRefused):
		return http.StatusConflict
	}
	return http.StatusBadGateway
}

type rebuildData struct {
	Status RebuildStatus
}

// rebuildPage shows a rebuild's progress; its script polls rebuild.json.
func (c *Console) rebuildPage(w http.ResponseWriter, r *http.Request) {
	s, ok := c.rebuildStatus(w, r)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "rebuild", "Rebuild of "+s.Projection, "projections", rebuildData{Status: s})
}

func (c *Console) rebuildJSON(w http.ResponseWriter, r *http.Request) {
	if s, ok := c.rebuildStatus(w, r); ok {
		writeJSON(w, http.StatusOK, s)
	}
}

func (c *Console) rebuildStatus(w http.ResponseWriter, r *http.Request) (RebuildStatus, bool) {
	a, err := parseProjectionAction(r.URL.Query(), actionRebuild)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return RebuildStatus{}, false
	}
	_, jobs, err := c.live()
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, err.Error())
		return RebuildStatus{}, false
	}
	j, ok := jobs.job(a.Name)
	if !ok {
		c.fail(w, r, http.StatusNotFound, "No rebuild of "+a.Name+" was started from this console since it started.")
		return RebuildStatus{}, false
	}
	return j.status(), true
}

func itoa(n int) string { return strconv.Itoa(n) }
