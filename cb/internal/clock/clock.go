package clock

import "time"

// epoch is the origin of every reading. It carries a monotonic reading, so
// time.Since(epoch) is monotonic outside synctest bubbles.
var epoch = time.Now()

// Now returns the time elapsed since the process's clock epoch.
func Now() time.Duration { return time.Since(epoch) }
