package zk

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel runs f(0), …, f(n−1) on up to GOMAXPROCS goroutines (one, in
// WebAssembly) and returns the error of the lowest index that failed. After a
// failure the indices not yet started are skipped, so a bad proof costs its
// verifier little.
func Parallel(n int, f func(k int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for k := range n {
			if err := f(k); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				if err := f(k); err != nil {
					errs[k] = err
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
