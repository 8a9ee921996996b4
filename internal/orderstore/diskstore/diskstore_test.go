package diskstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/diskstore"
	"flashsale/internal/orderstore/storetest"
	"flashsale/internal/payment"
)

func open(t *testing.T, dir string, cfg diskstore.Config) *diskstore.Store {
	t.Helper()
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = -1
	}
	s, err := diskstore.Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, retention time.Duration) orderstore.Store {
		return open(t, t.TempDir(), diskstore.Config{Retention: retention})
	}, storetest.Options{})
}

// TestReopen: what was written is there after a close and an open: records,
// the queue in its order (finished and cancelled orders out of it), and the
// charges, which then answer a repeat without charging.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, diskstore.Config{})
	var orders []order.Order
	for i := range 5 {
		o := storetest.NewOrder(t, int64(i+1))
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	// orders[1] paid, orders[3] cancelled, orders[4] claimed and left.
	if _, err := s.Claim(ctx, orders[1], "w1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, charged, err := s.Charge(ctx, orders[1].ID, "w1", payment.ResultCompleted); err != nil || !charged {
		t.Fatalf("charge = %v, %v", charged, err)
	}
	if _, err := s.Finish(ctx, orders[1].ID, "w1", order.StatusCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, orders[3].ID, orderstore.ReasonNotAccepted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, orders[4], "w1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, diskstore.Config{})
	ids := queuedIDs(t, s)
	want := []string{orders[0].ID, orders[2].ID, orders[4].ID}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("queued after reopen = %v, want %v (accepted order, finished ones out)", ids, want)
	}
	if r, err := s.Get(ctx, orders[1].ID); err != nil || r.Status() != order.StatusCompleted || r.PaidAt.IsZero() {
		t.Errorf("paid order after reopen = %+v, %v", r, err)
	}
	// The claim of the process that held the directory ended with it.
	r, err := s.Claim(ctx, orders[4], "w2", time.Minute)
	if err != nil || r.Attempts != 2 || r.Holder != "w2" {
		t.Errorf("claim of an order a dead process held = %+v, %v; want it taken over, attempt 2", r, err)
	}
	res, charged, err := s.Charge(ctx, orders[1].ID, "w2", payment.ResultDeclined)
	if err != nil || charged || res != payment.ResultCompleted {
		t.Errorf("charge again after reopen = %v, %v, %v; want the first result, not charged", res, charged, err)
	}
	// New orders queue after the old ones.
	o := storetest.NewOrder(t, 9)
	if _, err := s.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	if queued, _ := s.Queued(ctx); len(queued) != 4 || queued[3].ID != o.ID {
		t.Errorf("queued = %d orders, last %v; want the new order last", len(queued), queued[len(queued)-1].ID)
	}
}

// queuedIDs is the IDs of s's queued orders, in queue order.
func queuedIDs(t *testing.T, s *diskstore.Store) []string {
	t.Helper()
	queued, err := s.Queued(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range queued {
		ids = append(ids, o.ID)
	}
	return ids
}

// TestSweep: expired finished records go, with their charges; a queued
// order never expires, however long the process was down.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := open(t, t.TempDir(), diskstore.Config{Retention: time.Hour, Now: clock})
	paid, queued := storetest.NewOrder(t, 1), storetest.NewOrder(t, 2)
	for _, o := range []order.Order{paid, queued} {
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Claim(ctx, paid, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Charge(ctx, paid.ID, "w", payment.ResultCompleted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(ctx, paid.ID, "w", order.StatusCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("sweep within the retention = %d, %v; want 0", n, err)
	}
	advance(2 * time.Hour)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("sweep after the retention = %d, %v; want 1 (the paid order)", n, err)
	}
	if _, err := s.Get(ctx, paid.ID); !errors.Is(err, orderstore.ErrNotFound) {
		t.Errorf("swept order: %v, want ErrNotFound", err)
	}
	if c, err := s.Charges(ctx); err != nil || len(c) != 0 {
		t.Errorf("charges after the sweep = %v, %v; want none", c, err)
	}
	if r, err := s.Get(ctx, queued.ID); err != nil || r.Status() != order.StatusPending {
		t.Errorf("queued order past the retention = %+v, %v; want it kept, pending", r, err)
	}
	if q, err := s.Queued(ctx); err != nil || len(q) != 1 {
		t.Errorf("queued = %v, %v; want the order still queued", q, err)
	}
}

// TestBadState: a directory another process holds, a damaged or truncated
// database, another program's data: a clear error naming the path, never
// an empty start.
func TestBadState(t *testing.T) {
	ctx := context.Background()
	filled := func(t *testing.T) string {
		dir := t.TempDir()
		s, err := diskstore.Open(dir, diskstore.Config{SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			if _, err := s.Create(ctx, storetest.NewOrder(t, int64(i+1))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil { // flushes: the records are in a table file
			t.Fatal(err)
		}
		return dir
	}
	tables := func(t *testing.T, dir string) []string {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		if len(files) == 0 {
			t.Fatalf("no table file in %s", dir)
		}
		return files
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   error
	}{
		{"table file truncated", func(t *testing.T, dir string) {
			for _, f := range tables(t, dir) {
				info, _ := os.Stat(f)
				if err := os.Truncate(f, info.Size()/2); err != nil {
					t.Fatal(err)
				}
			}
		}, diskstore.ErrCorrupt},
		{"table file overwritten in the middle", func(t *testing.T, dir string) {
			for _, f := range tables(t, dir) {
				b, _ := os.ReadFile(f)
				for i := len(b) / 4; i < len(b)/4+64; i++ {
					b[i] ^= 0xff
				}
				if err := os.WriteFile(f, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, diskstore.ErrCorrupt},
		{"manifest damaged", func(t *testing.T, dir string) {
			files, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			if len(files) == 0 {
				t.Fatal("no manifest")
			}
			for _, f := range files {
				b, _ := os.ReadFile(f)
				for i := 8; i < len(b)-8; i++ {
					b[i] ^= 0x5a
				}
				if err := os.WriteFile(f, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, diskstore.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filled(t)
			tt.damage(t, dir)
			s, err := diskstore.Open(dir, diskstore.Config{SweepInterval: -1})
			if err == nil {
				q, _ := s.Queued(ctx)
				s.Close()
				t.Fatalf("open a damaged database: no error (%d queued)", len(q))
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "backup") {
				t.Errorf("open = %v; want %v naming %s and what to do", err, tt.want, dir)
			}
		})
	}

	t.Run("held by another process", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, diskstore.Config{})
		_, err := diskstore.Open(dir, diskstore.Config{SweepInterval: -1})
		if !errors.Is(err, diskstore.ErrLocked) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "another --data-dir") {
			t.Errorf("second open = %v; want ErrLocked naming %s and what to do", err, dir)
		}
		// The first one still works.
		if _, err := s.Create(ctx, storetest.NewOrder(t, 1)); err != nil {
			t.Errorf("create in the first: %v", err)
		}
	})

	t.Run("not a directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := diskstore.Open(file, diskstore.Config{}); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("open a file as directory = %v; want an error naming it", err)
		}
	})
}

// TestGroupCommit: concurrent durable writes share disk syncs.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), diskstore.Config{})
	before := s.DiskSyncs()
	const clients, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.Create(ctx, storetest.NewOrder(t, int64(c+1))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := s.DiskSyncs() - before
	if syncs <= 0 || syncs >= clients*each {
		t.Errorf("%d disk syncs for %d concurrent creates; want some, and fewer than one per create", syncs, clients*each)
	}
	t.Logf("%d creates, %d synced writes, %d disk syncs", clients*each, s.Syncs(), syncs)
}

// TestImport: imported orders are recorded and queued in their order, with
// one synced write for all; one already recorded is skipped, one recorded
// with another payload is reported and left as it was.
func TestImport(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), diskstore.Config{})
	there, clash := storetest.NewOrder(t, 1), storetest.NewOrder(t, 2)
	for _, o := range []order.Order{there, clash} {
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	other := clash
	other.CustomerID = 99
	fresh := []order.Order{storetest.NewOrder(t, 3), storetest.NewOrder(t, 4), storetest.NewOrder(t, 5)}
	syncs := s.Syncs()
	conflicts, err := s.Import(ctx, append([]order.Order{fresh[0], there, other}, fresh[1:]...))
	if err != nil {
		t.Fatal(err)
	}
	if len(conflicts) != 1 || conflicts[0] != clash.ID {
		t.Errorf("conflicts = %v, want [%s]", conflicts, clash.ID)
	}
	if n := s.Syncs() - syncs; n != 1 {
		t.Errorf("import asked for %d synced writes, want 1", n)
	}
	if r, _ := s.Get(ctx, clash.ID); r.Order.CustomerID != 2 {
		t.Errorf("conflicting order after the import: customer %d, want the recorded 2", r.Order.CustomerID)
	}
	ids := queuedIDs(t, s)
	want := []string{there.ID, clash.ID, fresh[0].ID, fresh[1].ID, fresh[2].ID}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("queued = %v, want %v", ids, want)
	}
}
