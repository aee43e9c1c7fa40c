package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/processes"
)

// instancesPerPage bounds the instance ids listed for one manager: an
// operator looking for one instance searches by its id.
const instancesPerPage = 100

// ProcessInfo is a process manager this binary registers, and the bucket
// its instances live in (processes.<name>.bucket).
type ProcessInfo struct {
	Name, Bucket string
}

type processesData struct {
	Query processQuery
	// Rows are the managers with their counts: those registered and any
	// other instance bucket the server holds (as `jetflow processes ls`).
	Rows []processRow
	// Instances are ids of the chosen manager's instances, in the order
	// of their last update (oldest first); More when there are others.
	Instances []string
	More      bool
	Instance  *instanceView
	Err       string
}

type processRow struct {
	processes.Summary
	Registered bool
	// Missing is set when the manager's bucket does not exist yet (no
	// instance ever started).
	Missing bool
	Err     string
}

type instanceView struct {
	processes.Record
	Pretty    string
	Deadlines []deadlineView
}

// deadlineView is a pending deadline and how far it is from now.
type deadlineView struct {
	processes.PendingDeadline
	When string
}

func (c *Console) processesPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseProcessQuery(r.URL.Query())
	d := processesData{Query: q}
	if err != nil {
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "processes", "Processes", "processes", d)
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	if q.ID != "" {
		rec, err := processes.Show(ctx, c.deps.JetStream, c.processBucket(q.Name), q.ID)
		if err != nil {
			d.Err = err.Error()
			status := http.StatusInternalServerError
			if errors.Is(err, processes.ErrInstanceNotFound) || errors.Is(err, processes.ErrProcessNotFound) {
				status = http.StatusNotFound
			}
			c.render(w, r, status, "processes", q.Name+" "+q.ID, "processes", d)
			return
		}
		d.Instance = viewOfInstance(rec, time.Now())
		c.render(w, r, http.StatusOK, "processes", q.Name+" "+q.ID, "processes", d)
		return
	}
	if d.Rows, err = c.processRows(ctx, q.Name); err != nil {
		d.Err = err.Error()
	}
	if q.Name != "" {
		if d.Instances, d.More, err = c.instances(ctx, c.processBucket(q.Name)); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			d.Err = err.Error()
		}
	}
	c.render(w, r, http.StatusOK, "processes", "Processes", "processes", d)
}

// processBucket is the bucket of the manager name: its configured one when
// this binary registers it, else the default.
func (c *Console) processBucket(name string) string {
	for _, p := range c.deps.Processes {
		if p.Name == name {
			return p.Bucket
		}
	}
	return processes.Bucket(name)
}

// processRows summarizes the registered managers and any other instance
// bucket on the server; only name's when it is set.
func (c *Console) processRows(ctx context.Context, name string) ([]processRow, error) {
	var rows []processRow
	seen := map[string]bool{}
	for _, p := range c.deps.Processes {
		rows, seen[p.Bucket] = append(rows, processRow{Summary: processes.Summary{Process: p.Name, Bucket: p.Bucket}, Registered: true}), true
	}
	buckets, err := processes.Buckets(ctx, c.deps.JetStream)
	if err != nil {
		return nil, err
	}
	for _, b := range buckets {
		if !seen[b] {
			rows = append(rows, processRow{Summary: processes.Summary{Process: strings.TrimPrefix(b, processes.BucketPrefix), Bucket: b}})
		}
	}
	if name != "" {
		rows = slices.DeleteFunc(rows, func(r processRow) bool { return r.Process != name })
		if len(rows) == 0 {
			rows = []processRow{{Summary: processes.Summary{Process: name, Bucket: processes.Bucket(name)}}}
		}
	}
	slices.SortFunc(rows, func(a, b processRow) int { return strings.Compare(a.Process, b.Process) })
	for i := range rows {
		s, err := processes.Summarize(ctx, c.deps.JetStream, rows[i].Process, rows[i].Bucket)
		switch {
		case errors.Is(err, processes.ErrProcessNotFound):
			rows[i].Missing = true
		case err != nil:
			rows[i].Err = err.Error()
		default:
			rows[i].Summary = s
		}
	}
	return rows, nil
}

// instances lists up to instancesPerPage instance ids of bucket (removed
// instances left out).
func (c *Console) instances(ctx context.Context, bucket string) ([]string, bool, error) {
	kv, err := c.deps.JetStream.KeyValue(ctx, bucket)
	if err != nil {
		return nil, false, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = keys.Stop() }()
	var ids []string
	for key := range keys.Keys() {
		if len(ids) == instancesPerPage {
			return ids, true, nil
		}
		id, err := processes.InstanceID(key)
		if err != nil {
			continue // not an instance's key: the console shows instances only
		}
		ids = append(ids, id)
	}
	return ids, false, nil
}

func viewOfInstance(rec processes.Record, now time.Time) *instanceView {
	v := &instanceView{Record: rec, Pretty: prettyJSON(rec.State)}
	for _, d := range rec.Deadlines {
		when := "in " + d.At.Sub(now).Round(time.Second).String()
		if d.At.Before(now) {
			when = "overdue by " + now.Sub(d.At).Round(time.Second).String()
		}
		v.Deadlines = append(v.Deadlines, deadlineView{PendingDeadline: d, When: when})
	}
	return v
}
