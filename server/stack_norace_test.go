//go:build !race

package server_test

import "net/http"

const raceEnabled = false

// A waiting poll keeps 4 KB of stack. The tolerance is for the other
// goroutines of the test process, whose stacks can change between the two
// readings by a few 32 KB spans (seen: up to 33 bytes per poll); a frame
// too many doubles it.
const maxStackPerPoll = 4096 + 512

// padStack: without the race detector the server runs as in production.
func padStack(h http.Handler) http.Handler { return h }
