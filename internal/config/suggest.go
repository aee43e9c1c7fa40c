package config

import (
	"maps"
	"slices"
	"strings"
)

// nearest returns the candidate closest to s by edit distance (with
// transpositions), or "" when none is close enough to be a likely typo.
// Case differences are free: "Replicas" suggests "replicas".
func nearest(s string, candidates []string) string {
	best, bestDist := "", -1
	limit := max(1, (len(s)+1)/3)
	for _, c := range candidates {
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if d > limit {
			continue
		}
		if bestDist < 0 || d < bestDist || d == bestDist && c < best {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Names are short; anything longer is no typo of ours.
		if a == b {
			return 0
		}
		return max(len(a), len(b))
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func mapKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
