package users

import (
	"fmt"

	"github.com/jetflow/jetflow"
)

// benchStatuses are the statuses seeded users move through.
var benchStatuses = []string{StatusInactive, StatusSuspended, StatusActive}

// listFilters are the status filters of the bench's list queries: each
// matches at least a quarter of the seeded users.
var listFilters = []string{"", StatusActive, StatusInactive, StatusSuspended}

// benchWorkload drives the User aggregate and the users read model in
// `jetflow bench`: users are created, then change their email; seeded
// users are created, then alternately updated and moved to another status.
func benchWorkload() jetflow.BenchWorkload {
	return jetflow.BenchWorkload{
		Aggregate: AggregateType,
		Create: func(i int) (string, []byte) {
			return CommandCreate, fmt.Appendf(nil, `{"username":"user_%d","email":"user%d@example.com"}`, i, i)
		},
		Update: func(id string, i int) (string, []byte) {
			return CommandUpdate, fmt.Appendf(nil, `{"id":%q,"email":"u%d@example.org"}`, id, i)
		},
		ReadModel: ReadModel,
		Seed: func(u, n int) (string, string, any) {
			id := fmt.Sprintf("bench-%06d", u)
			switch {
			case n == 0:
				return id, EventCreated, Created{ID: id, Username: fmt.Sprintf("user_%06d", u), Email: id + "@example.com"}
			case n%2 == 1:
				email := fmt.Sprintf("%s-%d@example.org", id, n)
				return id, EventUpdated, Updated{Email: &email}
			default:
				return id, EventStatusChanged, StatusChanged{Status: benchStatuses[(u+n)%len(benchStatuses)]}
			}
		},
		Get: func(id string, minSequence uint64) (string, []byte) {
			return QueryGet, fmt.Appendf(nil, `{"id":%q,"min_sequence":%d}`, id, minSequence)
		},
		List: func(page, variant int) (string, []byte) {
			return QueryList, fmt.Appendf(nil, `{"page":%d,"per_page":20,"status":%q}`, page, listFilters[variant%len(listFilters)])
		},
	}
}
