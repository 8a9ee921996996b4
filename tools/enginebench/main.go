// Command enginebench measures the embedded databases the durable default
// could be built on (bbolt, Pebble, SQLite through the pure-Go
// modernc.org/sqlite) on flashsale's own workload: concurrent clients each
// accepting an order durably (the order's record and its queue entry in one
// atomic, fsynced write, shared with the other clients' writes by group
// commit), then workers finishing them (record updated, queue entry
// removed), then the file's size.
//
// It is its own module so that the engines it does not choose stay out of
// flashsale's go.mod. Run it from this directory:
//
//	go run . -orders 20000 -clients 32
//
// The figures it printed when the engine was chosen are in README.md
// (Durable embedded default).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// engine is one database under test. accept and finish are durable when
// they return, and are called concurrently.
type engine interface {
	accept(id string, record []byte, seq uint64) error
	finish(id string, record []byte, seq uint64) error
	commits() int64 // durable commits (each one fsync or more)
	close() error
}

type opener func(dir string) (engine, error)

var engines = map[string]opener{
	"bbolt":  openBolt,
	"pebble": openPebble,
	"sqlite": openSQLite,
}

func main() {
	orders := flag.Int("orders", 20000, "orders to accept, then finish")
	clients := flag.Int("clients", 32, "concurrent clients (and workers)")
	which := flag.String("engines", "bbolt,pebble,sqlite", "engines to measure, comma-separated")
	dir := flag.String("dir", "", "directory for the databases (default: a temporary one)")
	rounds := flag.Int("rounds", 2, "rounds, engines interleaved, to see the spread")
	flag.Parse()
	base := *dir
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "enginebench"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(base)
	}
	record := []byte(`{"order":{"order_id":"` + strings.Repeat("x", 36) + `","customer_id":123456,"items":[{"sku":"SKU-00042","quantity":2,"unit_price_cents":1999}],"total_cents":3998,"status":"pending","created_at":"2026-12-01T10:00:00.123456789Z"},"payload_hash":"` + strings.Repeat("ab", 32) + `","updated_at":"2026-12-01T10:00:00.123456789Z","attempts":0,"expires_at":"2026-12-02T10:00:00Z"}`)
	fmt.Printf("%d orders, %d clients, record %d bytes, %s\n", *orders, *clients, len(record), base)
	fmt.Printf("%-7s %5s %12s %9s %9s %14s %12s %10s\n", "engine", "round", "accept/s", "p50", "p99", "commits/order", "finish/s", "file MB")
	for r := 1; r <= *rounds; r++ {
		for _, name := range strings.Split(*which, ",") {
			open, ok := engines[name]
			if !ok {
				fail(fmt.Errorf("unknown engine %q", name))
			}
			res, err := run(filepath.Join(base, fmt.Sprintf("%s-%d", name, r)), open, *orders, *clients, record)
			if err != nil {
				fail(fmt.Errorf("%s: %w", name, err))
			}
			fmt.Printf("%-7s %5d %12.0f %9s %9s %14.3f %12.0f %10.1f\n", name, r, res.acceptRate,
				res.p50.Round(10*time.Microsecond), res.p99.Round(10*time.Microsecond), res.commitsPerOrder, res.finishRate, float64(res.bytes)/1e6)
		}
	}
}

type result struct {
	acceptRate, finishRate float64
	p50, p99               time.Duration
	commitsPerOrder        float64
	bytes                  int64
}

func run(dir string, open opener, orders, clients int, record []byte) (result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	e, err := open(dir)
	if err != nil {
		return result{}, err
	}
	var res result
	lat := make([][]time.Duration, clients)
	start := time.Now()
	err = each(clients, orders, func(c int, n int64) error {
		t := time.Now()
		if err := e.accept(fmt.Sprintf("order-%09d", n), record, uint64(n)); err != nil {
			return err
		}
		lat[c] = append(lat[c], time.Since(t))
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return res, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	res.acceptRate = float64(orders) / elapsed.Seconds()
	res.p50 = all[len(all)/2]
	res.p99 = all[len(all)*99/100]
	res.commitsPerOrder = float64(e.commits()) / float64(orders)

	start = time.Now()
	err = each(clients, orders, func(_ int, n int64) error {
		return e.finish(fmt.Sprintf("order-%09d", n), record, uint64(n))
	})
	res.finishRate = float64(orders) / time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	if err := e.close(); err != nil {
		return res, err
	}
	res.bytes = dirSize(dir)
	return res, nil
}

// each calls fn for the orders 1 to orders from clients goroutines, client
// c taking the next order n until none is left or fn fails; it returns a
// failure of fn.
func each(clients, orders int, fn func(c int, n int64) error) error {
	var next atomic.Int64
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for n := next.Add(1); n <= int64(orders); n = next.Add(1) {
				if err := fn(c, n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "enginebench:", err)
	os.Exit(1)
}

// groupCommit turns concurrent writes into shared transactions: a writer
// that finds no commit running runs one with every write waiting, the
// others wait for it. No timer: a lone writer commits at once.
type groupCommit struct {
	commit func(ws []func(tx any) error) error // one transaction, synced
	mu     sync.Mutex
	queue  []*pending
	busy   bool
	n      atomic.Int64
}

type pending struct {
	fn   func(tx any) error
	done chan error
}

func (g *groupCommit) do(ctx context.Context, fn func(tx any) error) error {
	p := &pending{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		return <-p.done
	}
	g.busy = true
	for len(g.queue) > 0 {
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		fns := make([]func(tx any) error, len(batch))
		for i, b := range batch {
			fns[i] = b.fn
		}
		err := g.commit(fns)
		g.n.Add(1)
		for _, b := range batch {
			b.done <- err
		}
		g.mu.Lock()
	}
	g.busy = false
	g.mu.Unlock()
	return <-p.done
}
