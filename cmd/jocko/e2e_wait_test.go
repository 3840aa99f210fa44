package main

import (
	"context"
	"time"
)

// waitABit pauses a polling loop briefly (tests poll with a deadline rather
// than sleeping for a fixed time to wait for an event).
func waitABit(ctx context.Context) {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
