package users

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jetflow/jetflow/projections"
)

// Directory is the users read model in memory, as the query service keeps
// it: records by key, and every record ordered newest first (created_at
// descending, ties by id) overall and per status, so a page at any offset
// costs O(log n + per_page). A projections.View fills it and guards it.
type Directory struct {
	byKey    map[string]*entry
	all      *projections.OrderedSet[*entry]
	byStatus map[string]*projections.OrderedSet[*entry]
}

// entry is a record and its JSON as stored, which is exactly what a query
// replies: answering does not encode it again.
type entry struct {
	Record
	raw json.RawMessage
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	d := &Directory{
		byKey:    map[string]*entry{},
		all:      projections.NewOrderedSet(newestFirst),
		byStatus: map[string]*projections.OrderedSet[*entry]{},
	}
	for _, s := range []string{StatusActive, StatusInactive, StatusSuspended} {
		d.byStatus[s] = projections.NewOrderedSet(newestFirst)
	}
	return d
}

func newestFirst(a, b *entry) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Put implements projections.Model.
func (d *Directory) Put(key string, value []byte) error {
	e := &entry{raw: value}
	if err := json.Unmarshal(value, &e.Record); err != nil {
		return fmt.Errorf("users record %s: %w", key, err)
	}
	if !ValidStatus(e.Status) {
		return fmt.Errorf("users record %s: unknown status %q", key, e.Status)
	}
	d.Delete(key)
	d.byKey[key] = e
	d.all.Insert(e)
	d.byStatus[e.Status].Insert(e)
	return nil
}

// Delete implements projections.Model.
func (d *Directory) Delete(key string) {
	old, ok := d.byKey[key]
	if !ok {
		return
	}
	delete(d.byKey, key)
	d.all.Delete(old)
	d.byStatus[old.Status].Delete(old)
}

// Get returns the record of user id.
func (d *Directory) Get(id string) (Record, bool) {
	e, ok := d.byKey[projections.Key(id)]
	if !ok {
		return Record{}, false
	}
	return e.Record, true
}

// GetJSON returns the record of user id as JSON.
func (d *Directory) GetJSON(id string) (json.RawMessage, bool) {
	e, ok := d.byKey[projections.Key(id)]
	if !ok {
		return nil, false
	}
	return e.raw, true
}

// Len returns the number of users.
func (d *Directory) Len() int { return len(d.byKey) }

// List returns page (0-based) of perPage users with status ("" for all),
// newest first, and how many users match.
func (d *Directory) List(status string, page, perPage int) ([]Record, int) {
	var items []Record
	total := d.page(status, page, perPage, func(e *entry) { items = append(items, e.Record) })
	if items == nil {
		items = []Record{}
	}
	return items, total
}

// ListJSON is List with the records as JSON.
func (d *Directory) ListJSON(status string, page, perPage int) ([]json.RawMessage, int) {
	items := []json.RawMessage{}
	total := d.page(status, page, perPage, func(e *entry) { items = append(items, e.raw) })
	return items, total
}

func (d *Directory) page(status string, page, perPage int, fn func(*entry)) int {
	set := d.all
	if status != "" {
		if set = d.byStatus[status]; set == nil {
			return 0
		}
	}
	set.Page(page*perPage, perPage, fn)
	return set.Len()
}
