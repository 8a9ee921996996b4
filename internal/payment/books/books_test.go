package books_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"flashsale/internal/payment"
	"flashsale/internal/payment/books"
)

func TestChargeOncePerKeyAcrossOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "books")
	// Two opens of one file stand for two processes: each sees the other's
	// charges through the file, not through memory.
	a, err := books.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := books.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := map[string]int{}
	for i := range 40 {
		bk := a
		if i%2 == 1 {
			bk = b
		}
		wg.Go(func() {
			key := fmt.Sprintf("order-%d", i%10)
			r, first, err := bk.Charge(ctx, key, fmt.Sprintf("h%d", i), payment.ResultCompleted)
			if err != nil || r != payment.ResultCompleted {
				t.Errorf("charge %s = %v, %v", key, r, err)
			}
			if first {
				mu.Lock()
				firsts[key]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i := range 10 {
		if n := firsts[fmt.Sprintf("order-%d", i)]; n != 1 {
			t.Errorf("order-%d charged %d times, want 1", i, n)
		}
	}
	// A repeat returns the first result, whatever it is asked to record.
	if r, first, err := b.Charge(ctx, "order-3", "late", payment.ResultDeclined); err != nil || first || r != payment.ResultCompleted {
		t.Errorf("repeat = %v, %v, %v; want completed, not first", r, first, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := books.Parse(f)
	if err != nil || len(entries) != 10 {
		t.Fatalf("books hold %d entries (%v), want 10", len(entries), err)
	}
}

func TestChargeSkipsATornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "books")
	// A process killed in the middle of its write leaves a line without \n.
	if err := os.WriteFile(path, []byte("order-1\tcompleted\tw1\t2026-12-01T00:00:00Z\norder-2\tcomp"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := books.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, first, err := b.Charge(ctx, "order-1", "w2", payment.ResultCompleted); err != nil || first {
		t.Errorf("charge of a recorded key: first=%v err=%v", first, err)
	}
	for _, bad := range []string{"", "a\tb", "a\nb"} {
		if _, _, err := b.Charge(ctx, bad, "w", payment.ResultCompleted); err == nil {
			t.Errorf("charge with key %q: no error", bad)
		}
	}
}
