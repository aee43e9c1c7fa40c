package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/projections"
)

type overviewData struct {
	NATS       natsView
	Stream     streamView
	DLQ        dlqSummary
	Rates      Rates
	Checks     []checkView
	Ready      bool
	Projection []projectionRow
	ProjErr    string
	Now        time.Time
}

type natsView struct {
	Mode      string
	URL       string
	Connected string
	Server    string
	Version   string
	Cluster   string
	Servers   []string
	Status    string
	RTT       string
}

type streamView struct {
	Name                string
	Err                 string
	Msgs, Bytes         uint64
	FirstSeq, LastSeq   uint64
	FirstTime, LastTime time.Time
	Replicas            int
	Leader              string
	Peers               []peerView
}

type peerView struct {
	Name    string
	Current bool
	Offline bool
	Lag     uint64
}

type dlqSummary struct {
	Enabled bool
	Stream  string
	Count   uint64
	Err     string
}

type checkView struct {
	Name   string
	OK     bool
	Detail string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		c.fail(w, r, http.StatusBadRequest, "The overview takes no parameters.")
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	now := time.Now()
	c.samples.fresh(now, time.Second)
	d := overviewData{NATS: c.natsView(), Stream: c.streamView(ctx), DLQ: c.dlqSummary(ctx), Rates: c.samples.rates(now), Now: now}
	d.Ready = true
	for _, ch := range c.deps.Checks {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		err := ch.Check(cctx)
		ccancel()
		v := checkView{Name: ch.Name, OK: err == nil}
		if err != nil {
			v.Detail, d.Ready = err.Error(), false
		}
		d.Checks = append(d.Checks, v)
	}
	rows, err := c.projectionRows(ctx)
	d.Projection = rows
	if err != nil {
		d.ProjErr = err.Error()
	}
	c.render(w, r, http.StatusOK, "overview", "Overview", "overview", d)
}

func (c *Console) natsView() natsView {
	nc := c.deps.Conn
	v := natsView{
		URL: c.deps.NATS.URL, Connected: nc.ConnectedUrlRedacted(), Server: nc.ConnectedServerName(),
		Version: nc.ConnectedServerVersion(), Cluster: nc.ConnectedClusterName(), Status: strings.ToLower(nc.Status().String()),
	}
	switch {
	case c.deps.NATS.Embedded:
		// serve talks to its own server in process: the connection's URL
		// is a placeholder, the server's client URL is what others dial.
		v.Mode, v.Connected = "embedded server in this process", "in process"
		v.Server, v.Version = c.deps.NATS.ServerName, c.deps.NATS.ServerVersion
	case v.Cluster != "":
		v.Mode = "cluster " + v.Cluster
	default:
		v.Mode = "external server"
	}
	if !c.deps.NATS.Embedded {
		for _, s := range nc.Servers() {
			v.Servers = append(v.Servers, platform.RedactURLs(s))
		}
	}
	v.Server = short(v.Server)
	if rtt, err := nc.RTT(); err == nil {
		v.RTT = rtt.Round(time.Microsecond).String()
	}
	return v
}

func (c *Console) streamView(ctx context.Context) streamView {
	name := c.deps.Store.Config().EventStream
	v := streamView{Name: name}
	st, err := c.deps.JetStream.Stream(ctx, name)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	info, err := st.Info(ctx)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	s := info.State
	v.Msgs, v.Bytes, v.FirstSeq, v.LastSeq, v.FirstTime, v.LastTime = s.Msgs, s.Bytes, s.FirstSeq, s.LastSeq, s.FirstTime, s.LastTime
	v.Replicas = info.Config.Replicas
	if cl := info.Cluster; cl != nil {
		v.Leader = cl.Leader
		for _, p := range cl.Replicas {
			if p != nil {
				v.Peers = append(v.Peers, peerView{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag})
			}
		}
	}
	return v
}

func (c *Console) dlqSummary(ctx context.Context) dlqSummary {
	s := dlqSummary{Enabled: c.dlq != nil, Stream: c.deps.DLQStream}
	if c.dlq == nil {
		return s
	}
	st, err := c.deps.JetStream.Stream(ctx, c.deps.DLQStream)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	s.Count = st.CachedInfo().State.Msgs
	return s
}

// projectionRow is one generation of a projection, as the projections
// page and the overview list them.
type projectionRow struct {
	Name       string
	Registered bool
	// Role is "" for the active generation, "rebuild" for one being built.
	Role        string
	Generation  int
	Bucket      string
	State       string
	NoRunner    bool
	Checkpoint  uint64
	Lag         uint64
	Rate        float64
	Events      uint64
	Updated     time.Time
	Failure     *projections.Failure
	Error       string
	Skipped     []uint64
	NotStarted  bool
	Rebuild     *RebuildStatus
	RetiredNote string
}

// projectionRows reports every projection: those registered here (even
// before their first run) and any other the meta bucket knows, as
// `jetflow projections status` does.
func (c *Console) projectionRows(ctx context.Context) ([]projectionRow, error) {
	admin, jobs, err := c.live()
	if err != nil {
		return nil, err
	}
	registered := map[string]bool{}
	var names []string
	for _, p := range c.deps.Projections {
		registered[p.Name] = true
		names = append(names, p.Name)
	}
	known, err := admin.Names(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range known {
		if !registered[n] {
			names = append(names, n)
		}
	}
	var rows []projectionRow
	for _, n := range names {
		var job *RebuildStatus
		if j, ok := jobs.job(n); ok {
			s := j.status()
			job = &s
		}
		rep, err := admin.Report(ctx, n)
		if err != nil {
			rows = append(rows, projectionRow{Name: n, Registered: registered[n], NotStarted: true, Error: err.Error(), Rebuild: job})
			continue
		}
		active := generationRow(n, registered[n], rep.Active, "")
		active.Rebuild = job
		for _, g := range rep.Meta.Retired {
			active.RetiredNote += "generation " + itoa(g.Number) + " (" + g.Bucket + ") retired, not removed yet; "
		}
		rows = append(rows, active)
		if rep.Rebuild != nil {
			rows = append(rows, generationRow(n, registered[n], *rep.Rebuild, "rebuild"))
		}
	}
	return rows, nil
}

func generationRow(name string, registered bool, g projections.GenerationReport, role string) projectionRow {
	row := projectionRow{Name: name, Registered: registered, Role: role, Generation: g.Number, Bucket: g.Bucket,
		Checkpoint: g.AckFloor, Lag: g.Pending, State: "not started", NotStarted: g.Status == nil}
	if s := g.Status; s != nil {
		row.State, row.Rate, row.Events, row.Updated, row.Failure, row.Error, row.Skipped =
			string(s.State), s.Rate, s.Events, s.UpdatedAt, s.Failure, s.Error, s.Skipped
		row.NoRunner = g.LeaseHolder == "" && s.State != projections.StateStopped
		if s.State == projections.StateFailed && s.Failure == nil {
			row.Error = "failed"
		}
	}
	return row
}

// short shortens a server's generated id (56 characters) for display;
// names people give stay whole.
func short(name string) string {
	if len(name) <= 24 {
		return name
	}
	return name[:12] + "…"
}
