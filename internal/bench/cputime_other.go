//go:build !unix

package bench

import "time"

// processCPU is unavailable here; CPU figures read as zero.
func processCPU() time.Duration { return 0 }
