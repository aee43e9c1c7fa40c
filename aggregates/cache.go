package aggregates

import (
	"container/list"
	"sync"
)

// cache keeps recently used aggregates. An entry is locked while a command
// runs on it, which serializes commands on one aggregate within this
// process; staleness against other processes is caught by the event
// store's expected-sequence check, after which the entry is dropped.
type cache[S State] struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element
	lru     *list.List // front = most recently used
}

type entry[S State] struct {
	id   string
	mu   sync.Mutex
	inst *Instance[S] // nil until loaded, or after a drop
}

func newCache[S State](max int) *cache[S] {
	return &cache[S]{max: max, entries: map[string]*list.Element{}, lru: list.New()}
}

// acquire returns the locked entry for id, creating it if needed.
func (c *cache[S]) acquire(id string) *entry[S] {
	if c.max <= 0 {
		e := &entry[S]{id: id}
		e.mu.Lock()
		return e
	}
	c.mu.Lock()
	var e *entry[S]
	if el, ok := c.entries[id]; ok {
		c.lru.MoveToFront(el)
		e = el.Value.(*entry[S])
	} else {
		e = &entry[S]{id: id}
		c.entries[id] = c.lru.PushFront(e)
		for c.lru.Len() > c.max {
			oldest := c.lru.Back()
			c.lru.Remove(oldest)
			delete(c.entries, oldest.Value.(*entry[S]).id)
		}
	}
	c.mu.Unlock()
	e.mu.Lock()
	return e
}

func (e *entry[S]) release() { e.mu.Unlock() }

// len reports how many aggregates are cached.
func (c *cache[S]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
