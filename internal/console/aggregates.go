package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/jetflow/jetflow/streams"
)

const (
	// eventsPerPage bounds one page of an aggregate's timeline.
	eventsPerPage = 100
	// maxCausationScan bounds how many of an aggregate's events a search
	// for one command's events reads.
	maxCausationScan = 10000
	// recentEvents are listed when no aggregate is chosen, from at most
	// recentScan events at the end of the stream.
	recentEvents = 25
	recentScan   = 500
)

type aggregatesData struct {
	Query aggregateQuery
	// Types are the aggregate types the domain registers.
	Types  []string
	Recent []eventView
	Agg    *aggregateView
	Err    string
}

type aggregateView struct {
	Type, ID   string
	Registered bool
	// State is the current state as JSON, loaded as a command would load
	// it (the last snapshot and the events after it).
	State    string
	StateErr string
	Version  uint64
	Sequence uint64
	Snapshot *snapshotView
	// SnapshotNote says why there is none.
	SnapshotNote string
	Events       []eventView
	Causation    string
	// NextAfter, when set, is where the next page of events starts.
	NextAfter uint64
	// Capped is set when a causation search stopped before the end.
	Capped bool
}

type snapshotView struct {
	streams.Snapshot
	Pretty string
}

type eventView struct {
	streams.Event
	Pretty string
}

func viewOf(ev streams.Event) eventView { return eventView{Event: ev, Pretty: prettyJSON(ev.Data)} }

func (c *Console) aggregateTypes() []string {
	if c.deps.Commands == nil {
		return nil
	}
	var types []string
	for _, cmd := range c.deps.Commands.Commands() {
		typ, _, _ := strings.Cut(cmd, ".")
		if !slices.Contains(types, typ) {
			types = append(types, typ)
		}
	}
	return types
}

func (c *Console) aggregatesPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseAggregateQuery(r.URL.Query())
	d := aggregatesData{Query: q, Types: c.aggregateTypes()}
	if err != nil {
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "aggregates", "Aggregates", "aggregates", d)
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	if q.ID == "" {
		if d.Recent, err = c.recent(ctx, q.Type); err != nil {
			d.Err = err.Error()
		}
		c.render(w, r, http.StatusOK, "aggregates", "Aggregates", "aggregates", d)
		return
	}
	agg, err := c.aggregate(ctx, q)
	d.Agg = agg
	if err != nil {
		d.Err = err.Error()
	}
	c.render(w, r, http.StatusOK, "aggregates", q.Type+" "+q.ID, "aggregates", d)
}

// recent returns the latest events, newest first: of one aggregate type
// when typ is set.
func (c *Console) recent(ctx context.Context, typ string) ([]eventView, error) {
	st, err := c.deps.JetStream.Stream(ctx, c.deps.Store.Config().EventStream)
	if err != nil {
		return nil, err
	}
	last := st.CachedInfo().State.LastSeq
	if last == 0 {
		return nil, nil
	}
	from := uint64(1)
	if last > recentScan {
		from = last - recentScan + 1
	}
	var out []eventView
	for ev, err := range c.deps.Store.ReadAll(ctx, from, typ) {
		if err != nil {
			return nil, err
		}
		if ev.Sequence > last {
			break // written after this page began: the next load shows them
		}
		out = append(out, viewOf(ev))
	}
	slices.Reverse(out)
	return out[:min(len(out), recentEvents)], nil
}

// aggregate loads what the page shows of one aggregate.
func (c *Console) aggregate(ctx context.Context, q aggregateQuery) (*aggregateView, error) {
	v := &aggregateView{Type: q.Type, ID: q.ID, Causation: q.Causation, Registered: slices.Contains(c.aggregateTypes(), q.Type)}
	if v.Registered {
		state, pos, err := c.deps.Commands.State(ctx, q.Type, q.ID)
		if err != nil {
			v.StateErr = err.Error()
		} else if raw, err := json.Marshal(state); err != nil {
			v.StateErr = "the state does not marshal to JSON: " + err.Error()
		} else {
			v.State, v.Version, v.Sequence = prettyJSON(raw), pos.Version, pos.Sequence
		}
	} else {
		v.StateErr = "no command of this binary serves aggregate type " + q.Type + ", so its state cannot be built here; its events are below"
	}
	switch {
	case c.deps.Snapshots == nil:
		v.SnapshotNote = "snapshots are not available"
	default:
		snap, err := c.deps.Snapshots.Load(ctx, q.Type, q.ID)
		switch {
		case errors.Is(err, streams.ErrSnapshotNotFound):
			v.SnapshotNote = "no snapshot (one is taken every snapshots.every events)"
		case err != nil:
			v.SnapshotNote = err.Error()
		default:
			v.Snapshot = &snapshotView{Snapshot: snap, Pretty: prettyJSON(snap.State)}
		}
	}
	scanned := 0
	for ev, err := range c.deps.Store.Load(ctx, q.Type, q.ID, q.After) {
		if err != nil {
			return v, err
		}
		scanned++
		if q.Causation != "" && ev.Metadata.CausationID != q.Causation {
			if scanned >= maxCausationScan {
				v.Capped, v.NextAfter = true, ev.Sequence
				break
			}
			continue
		}
		// A page ends between commits: the events of one commit share its
		// stream sequence, and the next page starts after it.
		if n := len(v.Events); n >= eventsPerPage && ev.Sequence != v.Events[n-1].Sequence {
			v.NextAfter = v.Events[n-1].Sequence
			break
		}
		v.Events = append(v.Events, viewOf(ev))
		if !v.Registered {
			v.Version, v.Sequence = ev.Version, ev.Sequence
		}
	}
	return v, nil
}
