package users_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// createUsers creates n users through the command service with 16
// concurrent clients, user i with status statusOf(i); it returns their ids
// by index and the highest sequence written.
func createUsers(t *testing.T, c *client, n int, statusOf func(i int) string) ([]string, uint64) {
	t.Helper()
	ids := make([]string, n)
	var mu sync.Mutex
	var last uint64
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				id := fmt.Sprintf("u%04d", i)
				r := c.mustSend("cmd.user.create", map[string]string{"id": id, "username": fmt.Sprintf("user_%04d", i), "email": fmt.Sprintf("u%d@example.com", i)}, nil)
				if s := statusOf(i); s != users.StatusActive {
					r = c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": s}, nil)
				}
				mu.Lock()
				ids[i], last = id, max(last, r.Sequence)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return ids, last
}

func mixedStatus(i int) string {
	return []string{users.StatusActive, users.StatusInactive, users.StatusSuspended, users.StatusActive}[i%4]
}

// TestListPaginatesThousandUsers: 1,000 users with mixed statuses; paging
// through the list (with and without a status filter) yields each user
// exactly once, newest first, with the right totals.
func TestListPaginatesThousandUsers(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startReadSide(t, n)
	c := newClient(t, srv.URL)
	const total = 1000
	ids, last := createUsers(t, c, total, mixedStatus)
	wantStatus := map[string]string{}
	wantCount := map[string]int{}
	for i, id := range ids {
		wantStatus[id] = mixedStatus(i)
		wantCount[mixedStatus(i)]++
	}
	for _, status := range []string{"", users.StatusActive, users.StatusInactive, users.StatusSuspended} {
		for _, per := range []int{1, 37, 100} {
			if status == "" && per == 1 {
				continue // 1,000 round trips add nothing the other sizes do not check
			}
			seen := map[string]bool{}
			var prev *users.Record
			for page := 0; ; page++ {
				var reply users.ListReply
				if e := c.query("query.users.list", map[string]any{"page": page, "per_page": per, "status": status, "min_sequence": last}, &reply); e != nil {
					t.Fatalf("status %q page %d: %+v", status, page, e)
				}
				want := total
				if status != "" {
					want = wantCount[status]
				}
				if reply.Total != want || reply.Page != page || reply.PerPage != per {
					t.Fatalf("status %q page %d: total %d page %d per_page %d, want total %d", status, page, reply.Total, reply.Page, reply.PerPage, want)
				}
				if len(reply.Items) == 0 {
					if len(seen) != want {
						t.Fatalf("status %q per_page %d: paged through %d users, want %d", status, per, len(seen), want)
					}
					break
				}
				if len(reply.Items) > per {
					t.Fatalf("page of %d items, per_page %d", len(reply.Items), per)
				}
				for _, rec := range reply.Items {
					if seen[rec.ID] {
						t.Fatalf("status %q per_page %d: %s listed twice", status, per, rec.ID)
					}
					seen[rec.ID] = true
					if status != "" && rec.Status != status || rec.Status != wantStatus[rec.ID] {
						t.Fatalf("status %q: %s has status %s, want %s", status, rec.ID, rec.Status, wantStatus[rec.ID])
					}
					if prev != nil && (rec.CreatedAt.After(prev.CreatedAt) || rec.CreatedAt.Equal(prev.CreatedAt) && rec.ID < prev.ID) {
						t.Fatalf("order: %s (%s) after %s (%s)", rec.ID, rec.CreatedAt, prev.ID, prev.CreatedAt)
					}
					prev = &rec
				}
			}
		}
	}
	// The default page is the first 20.
	var reply users.ListReply
	if e := c.query("query.users.list", `{}`, &reply); e != nil || len(reply.Items) != users.DefaultPerPage || reply.PerPage != 20 || reply.Page != 0 {
		t.Fatalf("default list: %+v %+v", reply, e)
	}
}

// TestBadQueryInputIs400 names the problem of every bad request.
func TestBadQueryInputIs400(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startReadSide(t, n)
	c := newClient(t, srv.URL)
	for _, tc := range []struct {
		name, subject, body string
		status              int
		mention             string
	}{
		{"malformed json", "query.users.list", `{"page":`, 400, "malformed JSON"},
		{"not an object", "query.users.list", `[1]`, 400, "JSON object"},
		{"trailing data", "query.users.list", `{} {}`, 400, "after the JSON object"},
		{"page < 0", "query.users.list", `{"page":-1}`, 400, "page -1"},
		{"page not a number", "query.users.list", `{"page":"one"}`, 400, `"page"`},
		{"per_page 0", "query.users.list", `{"per_page":0}`, 400, "per_page 0: must be 1 to 100"},
		{"per_page 1000", "query.users.list", `{"per_page":1000}`, 400, "per_page 1000: must be 1 to 100"},
		{"unknown field", "query.users.list", `{"page":0,"sort":"name"}`, 400, `unknown field "sort"`},
		{"unknown status", "query.users.list", `{"status":"gone"}`, 400, `status "gone"`},
		{"negative min_sequence", "query.users.list", `{"min_sequence":-5}`, 400, `"min_sequence"`},
		{"get without id", "query.users.get", `{}`, 400, "id is required"},
		{"get id with dot", "query.users.get", `{"id":"a.b"}`, 400, "invalid id"},
		{"get unknown field", "query.users.get", `{"id":"x","name":"y"}`, 400, `unknown field "name"`},
		{"get unknown user", "query.users.get", `{"id":"nobody"}`, 404, "user nobody not found"},
		{"unknown query", "query.users.search", `{}`, 404, "unknown query"},
		{"unknown read model", "query.orders.list", `{}`, 404, "query.users.get, query.users.list"},
		{"too large", "query.users.list", `{"status":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := (&client{t: t, nc: c.nc}).query(tc.subject, tc.body, nil)
			if e == nil {
				t.Fatal("succeeded")
			}
			if e.Status != tc.status || !strings.Contains(e.Message, tc.mention) {
				t.Fatalf("got %d %s %q, want %d mentioning %q", e.Status, e.Code, e.Message, tc.status, tc.mention)
			}
		})
	}
}

// TestMinSequenceBounds: a sequence the read model does not reach in time
// is a 504 read_model_behind naming its current sequence; a sequence of an
// event the read model does not follow is answered without waiting.
func TestMinSequenceBounds(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startReadSide(t, n)
	c := newClient(t, srv.URL)
	created := c.create("bounded")
	var rec users.Record
	if e := c.query("query.users.get", map[string]any{"id": created.AggregateID, "min_sequence": created.Sequence}, &rec); e != nil {
		t.Fatal(e)
	}
	start := time.Now()
	e := c.query("query.users.get", map[string]any{"id": created.AggregateID, "min_sequence": created.Sequence + 1000}, nil)
	if e == nil || e.Status != 504 || e.Code != "read_model_behind" || !strings.Contains(e.Message, fmt.Sprintf("applied stream sequence %d", created.Sequence)) {
		t.Fatalf("far min_sequence: %+v", e)
	}
	if took := time.Since(start); took < 2*time.Second || took > 5*time.Second {
		t.Fatalf("504 after %s, want after the 2s bound", took)
	}
	// An event of another aggregate type: the users read model never
	// applies it, and does not need to.
	res, err := n.p.Store.Append(ctx(t), "order", "o1", streams.Position{}, streams.Event{Type: "order.placed", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if e := c.query("query.users.get", map[string]any{"id": created.AggregateID, "min_sequence": res.LastSequence}, &rec); e != nil {
		t.Fatalf("foreign min_sequence: %+v", e)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("foreign min_sequence answered after %s", took)
	}
}

// TestQueryServiceAnswersMicroDiscovery: jetflow-queries lists its endpoints.
func TestQueryServiceAnswersMicroDiscovery(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startReadSide(t, n)
	nc := natstest.Connect(t, srv.URL)
	msg, err := nc.Request("$SRV.INFO.jetflow-queries", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("$SRV.INFO: %v", err)
	}
	for _, subject := range []string{"query.users.get", "query.users.list"} {
		if !strings.Contains(string(msg.Data), `"subject":"`+subject+`"`) {
			t.Errorf("$SRV.INFO lacks endpoint %s: %s", subject, msg.Data)
		}
	}
}
