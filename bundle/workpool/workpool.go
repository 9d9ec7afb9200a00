// Package workpool runs a function over a slice with a bounded number of
// goroutines: the one worker pool the stages that keep going past an
// item's error share (the audit, relocation, reading a repository's
// headers).
package workpool

import (
	"context"
	"errors"
	"sync"
)

// ForEach calls fn on every item, at most workers at a time (at least
// one). Every item's error is kept; the result joins them in item order.
// When ctx ends, no new item starts and ctx's error is returned once the
// running calls are done.
func ForEach[T any](ctx context.Context, workers int, items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(workers, len(items))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(items[i])
			}
		}()
	}
feed:
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
