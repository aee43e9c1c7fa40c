package console

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The overview's rates come from the process's own Prometheus registry
// (what /metrics serves), sampled every few seconds into a ring: commands
// and queries answered, and how many of them were not "ok". Prometheus'
// counters only grow, so a rate is the difference of two samples.

const (
	metricCommands = "jetflow_commands_total"
	metricQueries  = "jetflow_query_duration_seconds"
	resultOK       = "ok"
)

// sample is the counters' totals at one time.
type sample struct {
	At                      time.Time
	Commands, CommandErrors float64
	Queries, QueryErrors    float64
	gathered                bool
}

type sampler struct {
	g       prometheus.Gatherer
	history int

	mu   sync.Mutex
	ring []sample
}

func newSampler(g prometheus.Gatherer, history int) *sampler {
	return &sampler{g: g, history: history}
}

// run samples every interval until ctx ends.
func (s *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// fresh samples now unless the last sample is younger than gap: the
// overview then shows the rates up to the moment it is loaded.
func (s *sampler) fresh(now time.Time, gap time.Duration) {
	s.mu.Lock()
	stale := len(s.ring) == 0 || now.Sub(s.ring[len(s.ring)-1].At) >= gap
	s.mu.Unlock()
	if stale {
		s.sample(now)
	}
}

// sample records the totals now.
func (s *sampler) sample(now time.Time) {
	sm := sample{At: now}
	if s.g != nil {
		if fams, err := s.g.Gather(); err == nil {
			sm.gathered = true
			for _, f := range fams {
				switch f.GetName() {
				case metricCommands:
					for _, m := range f.GetMetric() {
						v := m.GetCounter().GetValue()
						sm.Commands += v
						if label(m.GetLabel(), "result") != resultOK {
							sm.CommandErrors += v
						}
					}
				case metricQueries:
					for _, m := range f.GetMetric() {
						v := float64(m.GetHistogram().GetSampleCount())
						sm.Queries += v
						if label(m.GetLabel(), "result") != resultOK {
							sm.QueryErrors += v
						}
					}
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring = append(s.ring, sm)
	if len(s.ring) > s.history {
		s.ring = append(s.ring[:0], s.ring[len(s.ring)-s.history:]...)
	}
}

func label(pairs []*dto.LabelPair, name string) string {
	for _, p := range pairs {
		if p.GetName() == name {
			return p.GetValue()
		}
	}
	return ""
}

// point is the rates between two samples, per second.
type point struct {
	At                      time.Time
	Commands, CommandErrors float64
	Queries, QueryErrors    float64
}

// Rates is what the overview shows: the latest rates, averaged over the
// last minute, and the chart of the whole history.
type Rates struct {
	// Window is how far back the averages reach ("" when there are not
	// two samples yet).
	Window                                 string
	CommandsPerSec, CommandErrorsPerSec    float64
	QueriesPerSec, QueryErrorsPerSec       float64
	CommandErrorPercent, QueryErrorPercent float64
	TotalCommands, TotalQueries            float64
	// Chart is an SVG drawn from numbers only.
	Chart template.HTML
	// Span is how far back the chart reaches.
	Span string
}

func (s *sampler) rates(now time.Time) Rates {
	s.mu.Lock()
	ring := append([]sample(nil), s.ring...)
	s.mu.Unlock()
	var r Rates
	if len(ring) == 0 {
		return r
	}
	last := ring[len(ring)-1]
	r.TotalCommands, r.TotalQueries = last.Commands, last.Queries
	if len(ring) < 2 {
		return r
	}
	// The averages: from the oldest sample within the last minute.
	from := len(ring) - 2
	for from > 0 && last.At.Sub(ring[from-1].At) <= time.Minute {
		from--
	}
	p := between(ring[from], last)
	r.Window = last.At.Sub(ring[from].At).Round(time.Second).String()
	r.CommandsPerSec, r.CommandErrorsPerSec, r.QueriesPerSec, r.QueryErrorsPerSec = p.Commands, p.CommandErrors, p.Queries, p.QueryErrors
	if p.Commands > 0 {
		r.CommandErrorPercent = 100 * p.CommandErrors / p.Commands
	}
	if p.Queries > 0 {
		r.QueryErrorPercent = 100 * p.QueryErrors / p.Queries
	}
	points := make([]point, 0, len(ring)-1)
	for i := 1; i < len(ring); i++ {
		points = append(points, between(ring[i-1], ring[i]))
	}
	r.Span = now.Sub(ring[0].At).Round(time.Second).String()
	r.Chart = chart(points)
	return r
}

func between(a, b sample) point {
	dt := b.At.Sub(a.At).Seconds()
	if dt <= 0 {
		return point{At: b.At}
	}
	rate := func(x, y float64) float64 { return max(y-x, 0) / dt } // a counter reset reads as 0, not negative
	return point{At: b.At, Commands: rate(a.Commands, b.Commands), CommandErrors: rate(a.CommandErrors, b.CommandErrors),
		Queries: rate(a.Queries, b.Queries), QueryErrors: rate(a.QueryErrors, b.QueryErrors)}
}

// chart draws the rates as an SVG line chart. Every value written into it
// is a number formatted here, so it is safe to embed as HTML.
func chart(points []point) template.HTML {
	const w, h, pad = 640.0, 140.0, 4.0
	peak := 1.0
	for _, p := range points {
		peak = max(peak, p.Commands, p.Queries)
	}
	// Samples are not evenly spaced (a page load takes one): x is time.
	first, span := points[0].At, points[len(points)-1].At.Sub(points[0].At)
	x := func(i int) float64 {
		if span <= 0 {
			return w - pad
		}
		return pad + float64(points[i].At.Sub(first))/float64(span)*(w-2*pad)
	}
	y := func(v float64) float64 { return h - pad - v/peak*(h-2*pad) }
	line := func(class string, value func(point) float64) string {
		var b strings.Builder
		for i, p := range points {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(value(p)))
		}
		return fmt.Sprintf(`<polyline class="%s" points="%s"/>`, class, strings.TrimSpace(b.String()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="commands and queries per second">`, w, h)
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%.1f" x2="%.0f" y2="%.1f"/>`, h-pad, w, h-pad)
	fmt.Fprintf(&b, `<text class="peak" x="%.0f" y="14">%.1f/s</text>`, pad+2, peak)
	b.WriteString(line("queries", func(p point) float64 { return p.Queries }))
	b.WriteString(line("commands", func(p point) float64 { return p.Commands }))
	b.WriteString(line("errors", func(p point) float64 { return p.CommandErrors + p.QueryErrors }))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
