package console

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jetflow/jetflow/projections"
)

// A rebuild started from the browser runs in the serve process, as
// `jetflow projections rebuild` runs in the CLI's: the same Admin.Rebuild,
// owned by the console, which interrupts it on Stop (it then continues
// where it stopped when started again, from here or from the CLI). The
// page polls its progress.

// rebuildJob is one rebuild and what it has reported.
type rebuildJob struct {
	name    string
	started time.Time

	mu       sync.Mutex
	progress projections.Progress
	finished time.Time
	err      error
	active   projections.Generation
}

// RebuildStatus is a rebuild's progress as the page and its poll show it.
type RebuildStatus struct {
	Projection string `json:"projection"`
	Generation int    `json:"generation"`
	// Phase is "starting", then the rebuild's own: "building",
	// "switching", "cleaning up", "done".
	Phase   string `json:"phase"`
	Done    uint64 `json:"done"`
	Total   uint64 `json:"total"`
	Percent int    `json:"percent"`
	Resumed bool   `json:"resumed"`
	// Finished is true once the rebuild has returned; Error says why it
	// failed ("" when it succeeded).
	Finished bool      `json:"finished"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	// Bucket is the active bucket once it finished.
	Bucket string `json:"bucket,omitempty"`
}

func (j *rebuildJob) report(p projections.Progress) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if p.Phase != "building" {
		// Switching and cleaning up report no counts: the build's last
		// ones stand.
		p.Done, p.Total = j.progress.Done, j.progress.Total
	}
	j.progress = p
}

func (j *rebuildJob) status() RebuildStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := j.progress
	s := RebuildStatus{
		Projection: j.name, Generation: p.Generation, Phase: p.Phase, Done: p.Done, Total: p.Total,
		Resumed: p.Resumed, Finished: !j.finished.IsZero(), Started: j.started,
	}
	if s.Phase == "" {
		s.Phase = "starting"
	}
	if j.err != nil {
		s.Error = j.err.Error()
	}
	ok := s.Finished && j.err == nil
	if ok {
		s.Phase, s.Bucket, s.Generation = "done", j.active.Bucket, j.active.Number
	}
	s.Percent = percent(p.Done, p.Total, ok)
	return s
}

func (j *rebuildJob) running() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.finished.IsZero()
}

// rebuilds are the rebuilds started from the console: at most one per
// projection at a time, the last one of each kept for its page.
type rebuilds struct {
	life  context.Context
	admin *projections.Admin
	log   *slog.Logger

	mu   sync.Mutex
	jobs map[string]*rebuildJob
	wg   sync.WaitGroup
}

func newRebuilds(life context.Context, admin *projections.Admin, log *slog.Logger) *rebuilds {
	return &rebuilds{life: life, admin: admin, log: log, jobs: map[string]*rebuildJob{}}
}

// start rebuilds p unless a rebuild of it started here still runs; it
// returns the job and whether this call started it.
func (rb *rebuilds) start(p projections.Projection) (*rebuildJob, bool) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if j, ok := rb.jobs[p.Name]; ok && j.running() {
		return j, false
	}
	j := &rebuildJob{name: p.Name, started: time.Now()}
	rb.jobs[p.Name] = j
	rb.wg.Go(func() {
		meta, err := rb.admin.Rebuild(rb.life, p, j.report)
		j.mu.Lock()
		j.finished, j.err, j.active = time.Now(), err, meta.Active
		j.mu.Unlock()
		if err != nil {
			rb.log.Warn("console: rebuild ended with an error", "projection", p.Name, "error", err)
			return
		}
		rb.log.Info("console: rebuild done", "projection", p.Name, "generation", meta.Active.Number, "bucket", meta.Active.Bucket)
	})
	return j, true
}

// job returns the last rebuild of name started here.
func (rb *rebuilds) job(name string) (*rebuildJob, bool) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	j, ok := rb.jobs[name]
	return j, ok
}

// wait returns once every rebuild has returned.
func (rb *rebuilds) wait() { rb.wg.Wait() }
