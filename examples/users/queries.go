package users

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// Stable query names: endpoints query.users.<name>.
const (
	QueryGet  = "get"
	QueryList = "list"
)

// Paging limits of query.users.list.
const (
	DefaultPerPage = 20
	MaxPerPage     = 100
	maxPage        = 1_000_000_000
)

// GetRequest is query.users.get.
type GetRequest struct {
	ID string `json:"id"`
	// MinSequence makes the reply wait until the read model has applied
	// this stream sequence (a command reply's "sequence").
	MinSequence uint64 `json:"min_sequence,omitempty"`
}

// Validate checks the request.
func (r *GetRequest) Validate() error {
	if r.ID == "" {
		return fmt.Errorf("id is required")
	}
	if err := streams.ValidateAggregateID(r.ID); err != nil {
		return fmt.Errorf("invalid id: %s", strings.TrimPrefix(err.Error(), "streams: invalid aggregate id "))
	}
	return nil
}

// ListRequest is query.users.list; absent page and per_page take 0 and 20.
type ListRequest struct {
	Page        *int   `json:"page,omitempty"`
	PerPage     *int   `json:"per_page,omitempty"`
	Status      string `json:"status,omitempty"`
	MinSequence uint64 `json:"min_sequence,omitempty"`
}

// Validate checks the request.
func (r *ListRequest) Validate() error {
	if r.Page != nil && (*r.Page < 0 || *r.Page > maxPage) {
		return fmt.Errorf("page %d: must be 0 to %d", *r.Page, maxPage)
	}
	if r.PerPage != nil && (*r.PerPage < 1 || *r.PerPage > MaxPerPage) {
		return fmt.Errorf("per_page %d: must be 1 to %d", *r.PerPage, MaxPerPage)
	}
	if r.Status != "" && !ValidStatus(r.Status) {
		return fmt.Errorf("status %q: must be one of active, inactive, suspended", r.Status)
	}
	return nil
}

// PageAndSize returns the page and page size with defaults applied.
func (r *ListRequest) PageAndSize() (int, int) {
	page, per := 0, DefaultPerPage
	if r.Page != nil {
		page = *r.Page
	}
	if r.PerPage != nil {
		per = *r.PerPage
	}
	return page, per
}

// ListReply is the reply of query.users.list.
type ListReply struct {
	Items   []Record `json:"items"`
	Page    int      `json:"page"`
	PerPage int      `json:"per_page"`
	Total   int      `json:"total"`
}

// appendListReply writes ListReply's JSON around records already encoded
// as stored, without encoding (or re-validating) them again.
func appendListReply(items []json.RawMessage, page, perPage, total int) []byte {
	n := 64
	for _, it := range items {
		n += len(it) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, `],"page":`...)
	b = strconv.AppendInt(b, int64(page), 10)
	b = append(b, `,"per_page":`...)
	b = strconv.AppendInt(b, int64(perPage), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	return append(b, '}')
}

// View is the users read model kept in memory for queries.
type View = projections.View[*Directory]

// NewView returns a view of the users read model; cfg.MaxWait bounds
// min_sequence waits.
func NewView(nc *nats.Conn, cfg projections.Config, opts ...projections.Option) (*View, error) {
	return projections.NewView(nc, cfg, Projection(cfg.Streams), NewDirectory, opts...)
}

// RegisterQueries adds query.users.get and query.users.list to svc.
func RegisterQueries(svc *projections.QueryService, view *View) error {
	if err := projections.RegisterQuery(svc, ReadModel, QueryGet, func(ctx context.Context, req GetRequest) (any, uint64, error) {
		var rec json.RawMessage
		var found bool
		applied, err := view.Read(ctx, req.MinSequence, func(d *Directory) error {
			rec, found = d.GetJSON(req.ID)
			return nil
		})
		if err != nil {
			return nil, applied, err
		}
		if !found {
			return nil, applied, projections.NotFound("user %s not found", req.ID)
		}
		return rec, applied, nil
	}); err != nil {
		return err
	}
	return projections.RegisterQuery(svc, ReadModel, QueryList, func(ctx context.Context, req ListRequest) (any, uint64, error) {
		page, per := req.PageAndSize()
		var body []byte
		applied, err := view.Read(ctx, req.MinSequence, func(d *Directory) error {
			items, total := d.ListJSON(req.Status, page, per)
			body = appendListReply(items, page, per, total)
			return nil
		})
		if err != nil {
			return nil, applied, err
		}
		return json.RawMessage(body), applied, nil
	})
}
