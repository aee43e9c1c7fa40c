package projections

// record is the runner's knowledge of one record: its value (nil when it
// does not exist) and the stream sequence of the last event applied to it.
type record struct {
	// value is the encoded record; nil when it does not exist, or when
	// decoded holds a newer version not encoded yet.
	value []byte
	// decoded is the record as a recordCodec handler works on it.
	decoded any
	seq     uint64
	// touched is the batch that last used it; recent records stay cached.
	touched uint64
	// dirty is the batch that last changed it: its write goes out with that batch.
	dirty uint64
}

// recordCache holds the records the pipeline knows, including those whose
// writes are still in flight: applying an event always starts from the
// newest value of its record, confirmed or not. Only the pump goroutine
// uses it.
type recordCache struct {
	m     map[string]*record
	limit int
	batch uint64
}

func newRecordCache(limit int) *recordCache {
	return &recordCache{m: make(map[string]*record, min(limit, 4096)), limit: limit}
}

func (c *recordCache) get(key string) (*record, bool) {
	r, ok := c.m[key]
	return r, ok
}

// load caches a record as the bucket holds it.
func (c *recordCache) load(key string, value []byte, seq uint64) {
	r, ok := c.m[key]
	if !ok {
		r = &record{}
		c.m[key] = r
	}
	r.value, r.decoded, r.seq, r.touched = value, nil, seq, c.batch
}

// set records a new value of key from the current batch; it reports
// whether the key is new to the batch's writes.
func (c *recordCache) set(key string, value []byte, seq uint64) bool {
	c.load(key, value, seq)
	return c.markDirty(c.m[key])
}

// setDecoded records a new decoded value (nil: deleted), encoded when written.
func (c *recordCache) setDecoded(key string, decoded any, seq uint64) bool {
	c.load(key, nil, seq)
	r := c.m[key]
	r.decoded = decoded
	return c.markDirty(r)
}

func (c *recordCache) markDirty(r *record) bool {
	first := r.dirty != c.batch
	r.dirty = c.batch
	return first
}

func (c *recordCache) reset() { clear(c.m) }

// evict drops records until the cache is under its limit again, only those
// whose writes are confirmed (seq <= confirmed) and not used by the last 16
// batches, so a record read back from the bucket is one stored a while ago.
// It reports whether it dropped any.
func (c *recordCache) evict(confirmed uint64) bool {
	if len(c.m) <= c.limit {
		return false
	}
	target := c.limit - c.limit/10
	dropped := false
	for k, r := range c.m {
		if len(c.m) <= target {
			break
		}
		if r.seq <= confirmed && r.touched+16 < c.batch {
			delete(c.m, k)
			dropped = true
		}
	}
	return dropped
}
