package projections

import "math/rand/v2"

// OrderedSet keeps items sorted by cmp and finds the item at any rank in
// O(log n), so a page at any offset costs O(log n + page size): what a
// list query needs to page through a read model without scanning it. It is
// a treap whose nodes count their subtree. Items must be unique under cmp.
// It is not safe for concurrent use; views guard it with their lock.
type OrderedSet[T any] struct {
	cmp  func(a, b T) int
	root *treapNode[T]
	rng  *rand.Rand
}

type treapNode[T any] struct {
	item        T
	prio        uint64
	size        int
	left, right *treapNode[T]
}

// NewOrderedSet returns an empty set ordered by cmp.
func NewOrderedSet[T any](cmp func(a, b T) int) *OrderedSet[T] {
	return &OrderedSet[T]{cmp: cmp, rng: rand.New(rand.NewPCG(0x6a657466, 0x6c6f77))}
}

// Len returns the number of items.
func (s *OrderedSet[T]) Len() int { return size(s.root) }

// Insert adds item (it must not be in the set yet).
func (s *OrderedSet[T]) Insert(item T) {
	l, r := s.split(s.root, item)
	n := &treapNode[T]{item: item, prio: s.rng.Uint64(), size: 1}
	s.root = merge(merge(l, n), r)
}

// Delete removes the item equal to item under cmp; it reports whether one was there.
func (s *OrderedSet[T]) Delete(item T) bool {
	var removed bool
	s.root = s.remove(s.root, item, &removed)
	return removed
}

// Page calls fn with up to limit items from rank offset (0-based), in order.
func (s *OrderedSet[T]) Page(offset, limit int, fn func(T)) {
	if offset < 0 || limit <= 0 {
		return
	}
	walk(s.root, offset, &limit, fn)
}

func size[T any](n *treapNode[T]) int {
	if n == nil {
		return 0
	}
	return n.size
}

func (n *treapNode[T]) fix() { n.size = 1 + size(n.left) + size(n.right) }

// split cuts t into the items before item and the others.
func (s *OrderedSet[T]) split(t *treapNode[T], item T) (*treapNode[T], *treapNode[T]) {
	if t == nil {
		return nil, nil
	}
	if s.cmp(t.item, item) < 0 {
		l, r := s.split(t.right, item)
		t.right = l
		t.fix()
		return t, r
	}
	l, r := s.split(t.left, item)
	t.left = r
	t.fix()
	return l, t
}

func merge[T any](a, b *treapNode[T]) *treapNode[T] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = merge(a.right, b)
		a.fix()
		return a
	default:
		b.left = merge(a, b.left)
		b.fix()
		return b
	}
}

func (s *OrderedSet[T]) remove(t *treapNode[T], item T, removed *bool) *treapNode[T] {
	if t == nil {
		return nil
	}
	switch c := s.cmp(item, t.item); {
	case c < 0:
		t.left = s.remove(t.left, item, removed)
	case c > 0:
		t.right = s.remove(t.right, item, removed)
	default:
		*removed = true
		return merge(t.left, t.right)
	}
	t.fix()
	return t
}

// walk visits items in order from rank skip while limit lasts; subtrees
// wholly before the offset are stepped over by their size.
func walk[T any](n *treapNode[T], skip int, limit *int, fn func(T)) {
	if n == nil || *limit == 0 {
		return
	}
	if ls := size(n.left); skip < ls {
		walk(n.left, skip, limit, fn)
		skip = 0
	} else {
		skip -= ls
	}
	if *limit == 0 {
		return
	}
	if skip == 0 {
		fn(n.item)
		*limit--
	} else {
		skip--
	}
	if skip < size(n.right) {
		walk(n.right, skip, limit, fn)
	}
}
