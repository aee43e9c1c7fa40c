package processes

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// Raw headers of KV records and their writes.
const (
	hdrKVOperation   = "KV-Operation"
	hdrMarkerReason  = "Nats-Marker-Reason"
	hdrExpectedSubj  = "Nats-Expected-Last-Subject-Sequence"
	hdrTTL           = "Nats-TTL"
	kvOpDelete       = "DEL"
	kvOpPurge        = "PURGE"
	errCodeWrongLast = 10071
)

// errConflict: another writer changed the record since it was read.
var errConflict = errors.New("processes: record changed since it was read")

// stored is an instance's record as the bucket holds it.
type stored struct {
	// rec is nil when the instance does not exist (or its tombstone
	// holds no record).
	rec *Record
	// rev is the record's revision (its stream sequence), 0 when none.
	rev uint64
	// tomb: the instance ended and its record was removed.
	tomb bool
}

func recordSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// readMode says how much a read of an instance's record may assume.
type readMode int

const (
	// readCached takes the cached record, else a direct get (which a
	// replica a little behind may serve: a write on it fails its
	// compare-and-set and is decided again).
	readCached readMode = iota
	// readNew, for a message that may start the instance, assumes a
	// record it has no copy of does not exist, and reads nothing: a
	// wrong guess fails the compare-and-set and reads again. Most
	// starting messages meet no record, and this saves a round trip.
	readNew
	// readLeader reads the stream's leader: what a skip is decided on.
	readLeader
)

// get returns the instance's record, and whether it is a guess (from the
// cache, or assumed absent) rather than what the bucket said.
func (m *Manager[S]) get(ctx context.Context, key string, mode readMode) (stored, bool, error) {
	if mode != readLeader {
		if st, ok := m.cache.get(key); ok {
			return st, true, nil
		}
		if mode == readNew {
			return stored{}, true, nil
		}
	}
	var st stored
	var err error
	if mode == readLeader {
		st, err = readRecord(ctx, m.js, m.cfg.Bucket, key)
	} else {
		st, err = m.readDirect(ctx, key)
	}
	if err != nil {
		return stored{}, false, fmt.Errorf("processes: %s: read instance %s: %w", m.def.Name, key, err)
	}
	return st, false, nil
}

// readDirect reads the last message of key with a direct get.
func (m *Manager[S]) readDirect(ctx context.Context, key string) (stored, error) {
	raw, err := m.bucket.GetLastMsgForSubject(ctx, recordSubject(m.cfg.Bucket, key))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, nil
	}
	if err != nil {
		return stored{}, err
	}
	return decodeStored(streams.LeaderMsg{Sequence: raw.Sequence, Header: raw.Header, Data: raw.Data})
}

// readRecord reads the last message of key from the bucket's leader.
func readRecord(ctx context.Context, js jetstream.JetStream, bucket, key string) (stored, error) {
	raw, found, err := streams.GetLastFromLeader(ctx, js, "KV_"+bucket, recordSubject(bucket, key))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return stored{}, fmt.Errorf("%w: bucket %s", ErrProcessNotFound, bucket)
	}
	if err != nil || !found {
		return stored{}, err
	}
	return decodeStored(raw)
}

// decodeStored reads a record's message: a record, or a tombstone
// (possibly carrying the ended instance's last record).
func decodeStored(raw streams.LeaderMsg) (stored, error) {
	st := stored{rev: raw.Sequence}
	if op := raw.Header.Get(hdrKVOperation); op == kvOpDelete || op == kvOpPurge || raw.Header.Get(hdrMarkerReason) != "" {
		st.tomb = true
		if len(raw.Data) == 0 {
			return st, nil
		}
	}
	rec, err := DecodeRecord(raw.Data)
	if err != nil {
		return stored{}, err
	}
	st.rec = &rec
	return st, nil
}

// write stores next as key's record if the record is still at rev, and
// returns its new revision. An ended instance's record is stored with a
// TTL (KeepEnded), or as a delete marker that carries it (a tombstone,
// kept RememberEnded).
func (m *Manager[S]) write(ctx context.Context, key string, rev uint64, next *Record) (uint64, error) {
	data, err := json.Marshal(next)
	if err != nil {
		return 0, fmt.Errorf("processes: %s: encode record: %w", m.def.Name, err)
	}
	msg := nats.NewMsg(recordSubject(m.cfg.Bucket, key))
	msg.Data = data
	msg.Header.Set(hdrExpectedSubj, strconv.FormatUint(rev, 10))
	msg.Header.Set(HeaderStatus, next.Status)
	if next.Status == StatusEnded {
		if m.cfg.KeepEnded > 0 {
			msg.Header.Set(hdrTTL, ttlValue(m.cfg.KeepEnded))
		} else {
			msg.Header.Set(hdrKVOperation, kvOpDelete)
			msg.Header.Set(hdrTTL, ttlValue(m.cfg.RememberEnded))
		}
	}
	ack, err := m.js.PublishMsg(ctx, msg)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeWrongLast {
			return 0, errConflict
		}
		return 0, fmt.Errorf("processes: %s: write instance %s: %w", m.def.Name, key, err)
	}
	return ack.Sequence, nil
}

// ttlValue is a Nats-TTL in whole seconds, rounded up.
func ttlValue(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
}

// keyLocks serializes the messages of one instance within a process.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// recordCache keeps the records this manager read or wrote last, least
// recently used out first.
type recordCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of string keys, most recent first
	items map[string]cacheItem
}

type cacheItem struct {
	st  stored
	pos *list.Element
}

func newRecordCache(size int) *recordCache {
	return &recordCache{size: size, order: list.New(), items: map[string]cacheItem{}}
}

func (c *recordCache) get(key string) (stored, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		return stored{}, false
	}
	c.order.MoveToFront(it.pos)
	return it.st, true
}

func (c *recordCache) put(key string, st stored) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[key]; ok {
		it.st = st
		c.items[key] = it
		c.order.MoveToFront(it.pos)
		return
	}
	c.items[key] = cacheItem{st: st, pos: c.order.PushFront(key)}
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(string))
	}
}

func (c *recordCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[key]; ok {
		c.order.Remove(it.pos)
		delete(c.items, key)
	}
}

// idSet remembers the last ids added (effects this manager did), oldest
// forgotten first.
type idSet struct {
	mu   sync.Mutex
	ring []string
	next int
	ids  map[string]struct{}
}

func newIDSet(size int) *idSet {
	return &idSet{ring: make([]string, size), ids: make(map[string]struct{}, size)}
}

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.ids[id] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
}

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}
