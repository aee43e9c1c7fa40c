package projections_test

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jetflow/jetflow/projections"
)

// TestOrderedSetMatchesSortedSlice: random inserts and deletes, then every
// page at every offset equals the same page of a sorted slice.
func TestOrderedSetMatchesSortedSlice(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	s := projections.NewOrderedSet(cmp.Compare[int])
	var ref []int
	in := map[int]bool{}
	for range 5000 {
		v := rng.IntN(2000)
		if in[v] {
			if !s.Delete(v) {
				t.Fatalf("delete %d: not found", v)
			}
			delete(in, v)
			i, _ := slices.BinarySearch(ref, v)
			ref = slices.Delete(ref, i, i+1)
		} else {
			s.Insert(v)
			in[v] = true
			i, _ := slices.BinarySearch(ref, v)
			ref = slices.Insert(ref, i, v)
		}
	}
	if s.Len() != len(ref) {
		t.Fatalf("len %d, want %d", s.Len(), len(ref))
	}
	if s.Delete(-1) {
		t.Fatal("deleted an absent item")
	}
	for _, per := range []int{1, 7, 100} {
		for off := 0; off <= len(ref)+per; off += per {
			var got []int
			s.Page(off, per, func(v int) { got = append(got, v) })
			want := ref[min(off, len(ref)):min(off+per, len(ref))]
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("page at %d size %d: %v, want %v", off, per, got, want)
			}
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{
		"0198c0de-7a1b-7000-8000-000000000001": "0198c0de-7a1b-7000-8000-000000000001",
		"frank_1":                              "frank_1",
		"a@b":                                  "=YUBi",
		"=x":                                   "=PXg",
		"ünï":                                  "=w7xuw68",
		"":                                     "",
	} {
		if got := projections.Key(id); got != want {
			t.Errorf("Key(%q) = %q, want %q", id, got, want)
		}
	}
}
