package sources

import (
	"context"
	"errors"
	"sync"
)

// FetchAll fetches every source with up to workers downloads at a time
// (workers <= 0 means 4) and returns their paths in the order of srcs. It
// does not stop at the first failure: the error joins every source's error,
// and the paths of the sources that did succeed are still filled in.
func FetchAll(ctx context.Context, c *Cache, srcs []Source, workers int) ([]string, error) {
	if workers <= 0 {
		workers = 4
	}
	workers = min(workers, len(srcs))
	paths := make([]string, len(srcs))
	errs := make([]error, len(srcs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				paths[i], errs[i] = c.Fetch(ctx, srcs[i])
			}
		}()
	}
	for i := range srcs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return paths, errors.Join(errs...)
}
