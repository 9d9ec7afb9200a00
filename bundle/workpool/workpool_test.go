package workpool

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

func TestForEach(t *testing.T) {
	items := []int{1, 2, 3, 4, 5, 6, 7, 8}
	var sum, running, most atomic.Int64
	err := ForEach(context.Background(), 3, items, func(i int) error {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		defer running.Add(-1)
		sum.Add(int64(i))
		if i%4 == 0 {
			return errors.New("bad " + string(rune('0'+i)))
		}
		return nil
	})
	if sum.Load() != 36 || most.Load() > 3 {
		t.Errorf("sum %d, most at once %d", sum.Load(), most.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "bad 4\nbad 8") {
		t.Errorf("err = %v, want both errors in item order", err)
	}
	// No items, zero workers: returns at once.
	if err := ForEach(context.Background(), 0, []int(nil), func(int) error { return nil }); err != nil {
		t.Error(err)
	}
	// A cancelled context is the error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ForEach(ctx, 2, items, func(int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}
