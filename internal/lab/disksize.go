package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore/diskstore"
	"flashsale/internal/payment"
)

// Simulated time of the database size runs: the orders of a run arrive
// over SizeSaleLength, and with retention a finished order is kept for
// SizeRetention after it is paid, expired ones swept every SizeSweepEvery.
const (
	SizeSaleLength = 10 * 24 * time.Hour
	SizeRetention  = 24 * time.Hour
	SizeSweepEvery = time.Hour
)

// noRetention stands for "keep every order" in the size runs.
const noRetention = 100 * 365 * 24 * time.Hour

// SizeResult is the data dir's size after one size run.
type SizeResult struct {
	Orders    int
	Retention time.Duration // 0: every order kept
	Bytes     int64         // of every file in the data dir, after a clean close
	Kept      int           // records left
	Took      time.Duration
	// Reopen is how long opening the data dir again took: Open reads
	// every record, to end the claims of the process that held it.
	Reopen time.Duration
}

// DiskSize runs orders through the durable database's whole life
// (created and queued, claimed, charged, finished), 32 at a time, on a
// simulated clock over SizeSaleLength, and measures the data dir after a
// clean close. With retention, finished orders expire retention after
// their payment and are swept every SizeSweepEvery of simulated time;
// without (0), all are kept.
func DiskSize(ctx context.Context, dir string, orders int, retention time.Duration, log io.Writer) (SizeResult, error) {
	res := SizeResult{Orders: orders, Retention: retention}
	var done atomic.Int64
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	step := SizeSaleLength / time.Duration(orders)
	clock := func() time.Time { return start.Add(time.Duration(done.Load()) * step) }
	keep := retention
	if keep == 0 {
		keep = noRetention
	}
	db, err := diskstore.Open(dir, diskstore.Config{Retention: keep, SweepInterval: -1, Now: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return res, err
	}
	began := time.Now()
	var next atomic.Int64
	var sweepMu sync.Mutex
	lastSweep := start
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("size/%d", w)
			for {
				n := next.Add(1)
				if n > int64(orders) || ctx.Err() != nil {
					return
				}
				if err := lifeOf(ctx, db, n, holder); err != nil {
					errs <- err
					return
				}
				if d := done.Add(1); d%100_000 == 0 && log != nil {
					fmt.Fprintf(log, "size run (retention %v): %d of %d orders\n", retention, d, orders)
				}
				if retention > 0 && sweepMu.TryLock() {
					if now := clock(); now.Sub(lastSweep) >= SizeSweepEvery {
						lastSweep = now
						if _, err := db.Sweep(ctx); err != nil {
							sweepMu.Unlock()
							errs <- err
							return
						}
					}
					sweepMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		db.Close()
		return res, err
	}
	if err := ctx.Err(); err != nil {
		db.Close()
		return res, err
	}
	if retention > 0 {
		if _, err := db.Sweep(ctx); err != nil {
			db.Close()
			return res, err
		}
	}
	charges, err := db.Charges(ctx)
	if err != nil {
		db.Close()
		return res, err
	}
	res.Kept = len(charges)
	if err := db.Close(); err != nil {
		return res, err
	}
	res.Took = time.Since(began)
	if res.Bytes, err = dirBytes(dir); err != nil {
		return res, err
	}
	opened := time.Now()
	again, err := diskstore.Open(dir, diskstore.Config{Retention: keep, SweepInterval: -1, Now: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return res, fmt.Errorf("reopen: %w", err)
	}
	res.Reopen = time.Since(opened)
	err = again.Close()
	if log != nil {
		fmt.Fprintf(log, "size run (retention %v): %d orders, %d kept, %.1f MB in %v; reopened in %v\n", retention, orders, res.Kept, float64(res.Bytes)/1e6, res.Took.Round(time.Second), res.Reopen.Round(time.Millisecond))
	}
	return res, err
}

// lifeOf takes order n through its life in db.
func lifeOf(ctx context.Context, db *diskstore.Store, n int64, holder string) error {
	o, err := order.New(order.Request{
		OrderID:    fmt.Sprintf("size-%09d", n),
		CustomerID: n%100_000 + 1,
		Items:      []order.Item{{ProductID: "sku-00042", Quantity: 2, Price: 19.99}},
	}, time.Now())
	if err != nil {
		return err
	}
	if _, err := db.Create(ctx, o); err != nil {
		return err
	}
	if _, err := db.Claim(ctx, o, holder, time.Minute); err != nil {
		return err
	}
	if _, _, err := db.Charge(ctx, o.ID, holder, payment.ResultCompleted); err != nil {
		return err
	}
	_, err = db.Finish(ctx, o.ID, holder, order.StatusCompleted, "")
	return err
}

func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

func writeSizes(b *strings.Builder, sizes []SizeResult) {
	fmt.Fprintf(b, "\n## Database size\n\nEach order taken through its whole life in the durable database (recorded and queued, claimed, "+
		"charged, finished), 32 at a time, arriving over %v of simulated time; the data dir measured after a clean close. "+
		"With retention, a finished order is deleted %v after its payment, by a sweep every %v.\n\n"+
		"| orders | retention | records kept | data dir | per order | took | reopen |\n|---:|---|---:|---:|---:|---:|---:|\n",
		SizeSaleLength, SizeRetention, SizeSweepEvery)
	for _, s := range sizes {
		ret := "none (all kept)"
		if s.Retention > 0 {
			ret = s.Retention.String()
		}
		fmt.Fprintf(b, "| %d | %s | %d | %.1f MB | %.0f B | %v | %v |\n", s.Orders, ret, s.Kept, float64(s.Bytes)/1e6,
			float64(s.Bytes)/float64(s.Orders), s.Took.Round(time.Second), s.Reopen.Round(time.Millisecond))
	}
}
