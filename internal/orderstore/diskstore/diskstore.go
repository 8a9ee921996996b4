// Package diskstore is the crash-safe database of `flashsale serve`'s
// embedded default: one Pebble database in a data directory that holds the
// order store (an orderstore.Store), the queue of accepted orders and the
// simulated payment provider's record of charges (a payment.Books). A write
// that must survive a crash (an accepted order, a charge) is on disk when
// it returns: fsynced, with concurrent writers sharing one sync through
// Pebble's commit pipeline (group commit), so durability does not cost one
// disk flush per order.
//
// The queue is part of the order records: Create records an order as
// pending together with a queue entry, in one atomic write, and Finish and
// Cancel remove the entry with the outcome. Queued returns what is left in
// the order it was accepted, for a restarted process to pay. Claims of a
// process that no longer holds the directory ran out with it: Open ends
// them, so a restart retries those orders at once, and the charges record
// makes a retry after a payment that went through charge nothing.
//
// Records live for a retention period after their last change, as in the
// other stores; a sweep deletes expired finished records (and their
// charges) so that a long sale cannot grow the files without bound.
package diskstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	dto "github.com/prometheus/client_model/go"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/payment"
)

// DefaultRetention is how long a record is kept after its last change.
const DefaultRetention = 24 * time.Hour

// DefaultMinSyncInterval is the least time between two syncs of the
// write-ahead log (see Config.MinSyncInterval).
const DefaultMinSyncInterval = time.Millisecond

// DefaultSweepInterval is how often expired finished records are deleted.
const DefaultSweepInterval = time.Minute

// Errors of Open, each wrapped with the path and what to do.
var (
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("diskstore: data directory in use by another process")
	// ErrCorrupt: a file of the database is damaged or truncated.
	ErrCorrupt = errors.New("diskstore: database damaged")
	// ErrPermission: the directory or its files cannot be written.
	ErrPermission = errors.New("diskstore: no permission")
)

// Keys: o/<order id> holds a record, q/<seq> the id of a queued order,
// x/<expiry><order id> indexes the records by expiry for the sweep,
// c/<idempotency key> a charge, m/format the layout's version.
var (
	prefixOrder  = []byte("o/")
	prefixQueue  = []byte("q/")
	prefixExpiry = []byte("x/")
	prefixCharge = []byte("c/")
	keyFormat    = []byte("m/format")
)

// formatVersion is the layout of the keys and values.
const formatVersion = "flashsale-diskstore-1"

// Config configures Open.
type Config struct {
	// Retention is how long a record is kept after its last change:
	// DefaultRetention when zero.
	Retention time.Duration
	// SweepInterval is how often expired records are deleted:
	// DefaultSweepInterval when zero; negative: never (tests).
	SweepInterval time.Duration
	// MinSyncInterval is the least time between two syncs of the
	// write-ahead log: under load, the writes that arrive meanwhile share
	// the next sync (fewer, larger groups), at the cost of up to that
	// much latency; a write to an idle database is synced at once.
	// DefaultMinSyncInterval when zero; negative: none (each sync starts
	// as soon as the previous one ends).
	MinSyncInterval time.Duration
	// Logger receives the database's own messages (at debug level) and the
	// sweeps; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Store is the database. It implements orderstore.Store and payment.Books
// and is safe for concurrent use.
type Store struct {
	cfg     Config
	dir     string
	db      *pebble.DB
	dirLock *pebble.Lock
	seq     atomic.Uint64 // last queue sequence number used
	locks   [256]sync.Mutex
	seed    maphash.Seed
	syncs   atomic.Int64 // synced commits asked for

	stop      chan struct{}
	swept     chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var (
	_ orderstore.Store = (*Store)(nil)
	_ payment.Books    = (*Store)(nil)
)

// record is what o/<id> holds: the store's record, and the order's queue
// entry while it has one.
type record struct {
	orderstore.Record
	Seq uint64 `json:"queue_seq,omitempty"`
}

// Charge is a charge of the simulated provider: what c/<key> holds.
type Charge struct {
	Result payment.Result `json:"result"`
	Holder string         `json:"holder"` // who charged (payment.WithHolder)
	At     time.Time      `json:"at"`
}

// Open opens the database in dir, creating the directory and the database
// when missing. It fails with ErrLocked when another process holds dir,
// ErrPermission when dir cannot be written and ErrCorrupt when a file of
// the database is damaged, each naming the path and what to do; it never
// starts empty over a damaged database.
func Open(dir string, cfg Config) (*Store, error) {
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("diskstore: retention %v: must not be negative", cfg.Retention)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.MinSyncInterval == 0 {
		cfg.MinSyncInterval = DefaultMinSyncInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		if denied(err) {
			return nil, classify(dir, false, err)
		}
		return nil, fmt.Errorf("%w: %s is locked (%v): another flashsale serve uses it; stop that one, or give this one another --data-dir", ErrLocked, dir, err)
	}
	manifests, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	existed := len(manifests) > 0
	log := cfg.Logger
	opts := &pebble.Options{
		Lock:   lock,
		Logger: pebbleLogger{log},
		EventListener: &pebble.EventListener{
			// The read that found it returns the error: reported to the
			// caller, not a crash of the process.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				log.Error("the database in the data directory is damaged", "path", info.Path, "err", info.Details.Error())
			},
		},
	}
	// Every accepted order is a lookup of an ID the database does not
	// hold yet: Bloom filters answer most of those without reading a
	// table's blocks.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// After a sync, the next waits at least MinSyncInterval: on the
	// 2-core test machine, at 32 clients, 1 ms took a tenth of a sync per
	// order instead of a third, and 15-30% more orders a second.
	if minSync := cfg.MinSyncInterval; minSync > 0 {
		opts.WALMinSyncInterval = func() time.Duration { return minSync }
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		_ = lock.Close()
		return nil, classify(dir, existed, err)
	}
	s := &Store{cfg: cfg, dir: dir, db: db, dirLock: lock, seed: maphash.MakeSeed(), stop: make(chan struct{}), swept: make(chan struct{})}
	if err := s.start(); err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, classify(dir, true, err)
	}
	if cfg.SweepInterval > 0 {
		go s.sweepLoop()
	} else {
		close(s.swept)
	}
	return s, nil
}

// checkDir creates dir when missing and checks that this process may
// write in it.
func checkDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if denied(err) {
			return fmt.Errorf("%w: cannot create data directory %s (%v): choose a --data-dir you can write, or fix its permissions", ErrPermission, dir, err)
		}
		return fmt.Errorf("diskstore: data directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		if denied(err) {
			return fmt.Errorf("%w: cannot write in data directory %s (%v): choose a --data-dir you can write, or fix its permissions", ErrPermission, dir, err)
		}
		return fmt.Errorf("diskstore: data directory %s: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// denied reports whether err says this process may not write there.
func denied(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// classify turns an error of opening the database in dir into one of
// Open's errors. Over a database that existed, any error but a permission
// one means a damaged one: a file missing, truncated or overwritten.
func classify(dir string, existed bool, err error) error {
	switch {
	case denied(err):
		return fmt.Errorf("%w: cannot open the database in %s (%v): fix the permissions of the directory and its files, or choose another --data-dir", ErrPermission, dir, err)
	case existed, pebble.IsCorruptionError(err), errors.Is(err, errFormat):
		return fmt.Errorf("%w: the database in %s cannot be read (%v): restore the directory from a backup, or move it aside to start empty (its orders are then lost)", ErrCorrupt, dir, err)
	}
	return fmt.Errorf("diskstore: open %s: %w", dir, err)
}

var errFormat = errors.New("not a flashsale database")

// start checks the format, reads every block of the database once (see
// verify), ends the claims of the previous process on the orders it had
// queued, and reads the queue's last sequence number. A claim of the
// previous process's sync path (an order not queued) runs out with its
// lease, as any claim.
func (s *Store) start() error {
	v, closer, err := s.db.Get(keyFormat)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := s.checkEmpty(); err != nil {
			return err
		}
		s.syncs.Add(1)
		if err := s.db.Set(keyFormat, []byte(formatVersion), pebble.Sync); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		got := string(v)
		closer.Close()
		if got != formatVersion {
			return fmt.Errorf("%w: format %q, want %q", errFormat, got, formatVersion)
		}
	}
	if err := s.verify(); err != nil {
		return err
	}
	now := s.cfg.Now()
	b := s.db.NewBatch()
	defer b.Close()
	var last uint64 // the queue's last sequence number: new orders queue after it
	err = s.scan(prefixQueue, func(key, id []byte) error {
		last = binary.BigEndian.Uint64(key[len(prefixQueue):])
		r, ok, err := s.loadAny(string(id))
		if err != nil {
			return fmt.Errorf("%w: %v", pebble.ErrCorruption, err)
		}
		if ok && r.Order.Status == order.StatusProcessing && now.Before(r.LeaseUntil) {
			// Its holder was a process that held this directory: it is
			// gone, and its claim with it.
			r.LeaseUntil = now
			if err := b.Set(orderKey(r.Order.ID), s.encode(r), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.seq.Store(last)
	if !b.Empty() {
		s.syncs.Add(1)
		return b.Commit(pebble.Sync)
	}
	return nil
}

// verify reads every key and value of the database once, which checks the
// checksum of every block: a damaged database fails at start, with the
// path and what to do, not on some order later.
func (s *Store) verify() error {
	return s.scanRange(nil, nil, func([]byte, []byte) error { return nil })
}

// checkEmpty makes sure a database without a format key holds nothing: a
// directory of another program's Pebble data is not taken over.
func (s *Store) checkEmpty() error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return err
	}
	defer it.Close()
	if it.First() {
		return fmt.Errorf("%w: it holds keys but no format marker", errFormat)
	}
	return it.Error()
}

// scan calls fn for every key with prefix, in order.
func (s *Store) scan(prefix []byte, fn func(key, value []byte) error) error {
	return s.scanRange(prefix, prefixEnd(prefix), fn)
}

// scanRange calls fn for every key from lower (inclusive) to upper
// (exclusive), in order; nil bounds leave that side open.
func (s *Store) scanRange(lower, upper []byte, fn func(key, value []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	end[len(end)-1]++
	return end
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Syncs is the number of synced writes asked for since Open began (its own
// included). Concurrent ones share a disk sync, so the disk syncs are
// fewer (see DiskSyncs).
func (s *Store) Syncs() int64 { return s.syncs.Load() }

// DiskSyncs is the number of times the write-ahead log was synced to disk
// since Open began: with group commit, fewer than Syncs under concurrency.
// It also counts the sync Pebble makes when it closes a log file (at each
// switch of memory table). Pebble counts a sync after it has woken the
// writers waiting for it, so one that just ended may not be counted yet.
func (s *Store) DiskSyncs() int64 {
	h := s.db.Metrics().LogWriter.FsyncLatency
	if h == nil {
		return -1
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return -1
	}
	return int64(m.GetHistogram().GetSampleCount())
}

// Close stops the sweeps, flushes the memory table (so that the next Open
// need not replay the log) and closes the database. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.swept
		err := s.db.Flush()
		s.closeErr = errors.Join(err, s.db.Close(), s.dirLock.Close())
	})
	return s.closeErr
}

func orderKey(id string) []byte { return append(append([]byte(nil), prefixOrder...), id...) }

func queueKey(seq uint64) []byte {
	k := append([]byte(nil), prefixQueue...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// expiryKey sorts by expiry time (Unix nanoseconds, big-endian), then id.
func expiryKey(at time.Time, id string) []byte {
	k := append([]byte(nil), prefixExpiry...)
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	return append(k, id...)
}

func chargeKey(key string) []byte { return append(append([]byte(nil), prefixCharge...), key...) }

// lock serialises the read-modify-write of one key (an order or a charge):
// writes to other keys go on, and share their syncs.
func (s *Store) lock(kind byte, key string) func() {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteByte(kind)
	h.WriteString(key)
	m := &s.locks[h.Sum64()%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

func (s *Store) encode(r record) []byte {
	b, err := json.Marshal(r)
	if err != nil { // plain data: never
		panic(fmt.Sprintf("diskstore: encode %s: %v", r.Order.ID, err))
	}
	return b
}

// load returns the live record of id; ok is false when there is none or it
// expired. A queued order never expires: it was accepted, and is paid
// however long the process was down.
func (s *Store) load(id string, now time.Time) (r record, ok bool, err error) {
	r, ok, err = s.loadAny(id)
	if !ok || err != nil {
		return r, ok, err
	}
	if r.Seq == 0 && !now.Before(r.ExpiresAt) {
		return r, false, nil
	}
	return r, true, nil
}

// loadAny returns the record of id, expired or not.
func (s *Store) loadAny(id string) (r record, ok bool, err error) {
	v, closer, err := s.db.Get(orderKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("diskstore: read %s: %w", id, err)
	}
	defer closer.Close()
	if err := json.Unmarshal(v, &r); err != nil {
		return record{}, false, fmt.Errorf("diskstore: record %s in %s: %w", id, s.dir, err)
	}
	return r, true, nil
}

// write puts r (touched at now) with the queue changes of b, synced when
// durable; old is the expiry index entry of the record it replaces (zero:
// none, see indexed), which goes. Only a record out of the queue can
// expire, so only such a record is indexed.
func (s *Store) write(b *pebble.Batch, r *record, old, now time.Time, durable bool) error {
	r.UpdatedAt = now
	r.ExpiresAt = now.Add(s.cfg.Retention)
	if !old.IsZero() {
		if err := b.Delete(expiryKey(old, r.Order.ID), nil); err != nil {
			return err
		}
	}
	if r.Seq == 0 {
		if err := b.Set(expiryKey(r.ExpiresAt, r.Order.ID), nil, nil); err != nil {
			return err
		}
	}
	if err := b.Set(orderKey(r.Order.ID), s.encode(*r), nil); err != nil {
		return err
	}
	opts := pebble.NoSync
	if durable {
		opts = pebble.Sync
		s.syncs.Add(1)
	}
	if err := b.Commit(opts); err != nil {
		return fmt.Errorf("diskstore: write %s: %w", r.Order.ID, err)
	}
	return nil
}

// indexed is the expiry under which r is in the expiry index; zero when
// it is not (a queued record, or none).
func indexed(r record) time.Time {
	if r.Seq != 0 {
		return time.Time{}
	}
	return r.ExpiresAt
}

// Create implements orderstore.Store: the order is recorded pending and
// queued in one write, on disk when Create returns.
func (s *Store) Create(_ context.Context, o order.Order) (orderstore.Record, error) {
	return s.create(o, true)
}

// create is Create, synced when durable.
func (s *Store) create(o order.Order, durable bool) (orderstore.Record, error) {
	now := s.cfg.Now()
	hash := orderstore.PayloadHash(o)
	defer s.lock('o', o.ID)()
	b := s.db.NewBatch()
	defer b.Close()
	old, ok, err := s.load(o.ID, now)
	if err != nil {
		return orderstore.Record{}, err
	}
	if ok {
		switch {
		case notAccepted(old.Record): // never accepted: replaced
		case old.PayloadHash != hash:
			return old.Record, orderstore.ErrConflict
		default:
			return old.Record, orderstore.ErrExists
		}
	}
	o.Status = order.StatusPending
	r := record{Record: orderstore.Record{Order: o, PayloadHash: hash}, Seq: s.seq.Add(1)}
	if err := b.Set(queueKey(r.Seq), []byte(o.ID), nil); err != nil {
		return orderstore.Record{}, err
	}
	if err := s.write(b, &r, indexed(old), now, durable); err != nil {
		return orderstore.Record{}, err
	}
	return r.Record, nil
}

// Import records and queues orders as Create does each, in their order,
// with one sync at the end instead of one per order: for a spill file of
// an earlier version, read at start-up. An order already recorded with the
// same payload is skipped; the IDs of those recorded with another payload
// (not imported) are returned.
func (s *Store) Import(_ context.Context, orders []order.Order) (conflicts []string, err error) {
	for _, o := range orders {
		_, err := s.create(o, false)
		switch {
		case errors.Is(err, orderstore.ErrConflict):
			conflicts = append(conflicts, o.ID)
		case err != nil && !errors.Is(err, orderstore.ErrExists):
			return conflicts, fmt.Errorf("diskstore: import order %s: %w", o.ID, err)
		}
	}
	// The log is written in order: a synced write makes every earlier
	// one durable with it.
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.LogData([]byte("import"), nil); err != nil {
		return conflicts, err
	}
	s.syncs.Add(1)
	if err := b.Commit(pebble.Sync); err != nil {
		return conflicts, fmt.Errorf("diskstore: sync the import: %w", err)
	}
	return conflicts, nil
}

// Get implements orderstore.Store.
func (s *Store) Get(_ context.Context, id string) (orderstore.Record, error) {
	r, ok, err := s.load(id, s.cfg.Now())
	switch {
	case err != nil:
		return orderstore.Record{}, err
	case !ok:
		return orderstore.Record{}, orderstore.ErrNotFound
	}
	return r.Record, nil
}

// Claim implements orderstore.Store. A claim is not synced: a claim lost in
// a crash ended with its process anyway.
func (s *Store) Claim(_ context.Context, o order.Order, holder string, lease time.Duration) (orderstore.Record, error) {
	if err := orderstore.ValidateClaim(holder, lease); err != nil {
		return orderstore.Record{}, err
	}
	now := s.cfg.Now()
	hash := orderstore.PayloadHash(o)
	defer s.lock('o', o.ID)()
	r, ok, err := s.load(o.ID, now)
	old := indexed(r) // of an expired record too: it is replaced
	switch {
	case err != nil:
		return orderstore.Record{}, err
	case !ok:
		r = record{Record: orderstore.Record{Order: o, PayloadHash: hash}}
	case r.PayloadHash != hash:
		return r.Record, orderstore.ErrConflict
	case r.Finished():
		return r.Record, orderstore.ErrFinished
	case r.Order.Status == order.StatusProcessing && now.Before(r.LeaseUntil):
		return r.Record, orderstore.ErrClaimed
	}
	r.Order.Status = order.StatusProcessing
	r.Holder = holder
	r.LeaseUntil = now.Add(lease)
	r.Attempts++
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.write(b, &r, old, now, false); err != nil {
		return orderstore.Record{}, err
	}
	return r.Record, nil
}

// Finish implements orderstore.Store: the outcome is recorded and the
// order leaves the queue in one synced write.
func (s *Store) Finish(_ context.Context, id, holder string, status order.Status, reason string) (orderstore.Record, error) {
	if err := orderstore.ValidateFinish(holder, status); err != nil {
		return orderstore.Record{}, err
	}
	now := s.cfg.Now()
	defer s.lock('o', id)()
	r, ok, err := s.load(id, now)
	switch {
	case err != nil:
		return orderstore.Record{}, err
	case !ok:
		return orderstore.Record{}, orderstore.ErrNotFound
	case r.Finished():
		return r.Record, orderstore.ErrFinished
	case r.Order.Status != order.StatusProcessing || r.Holder != holder:
		return r.Record, orderstore.ErrNotHolder
	}
	r.Order.Status = status
	r.LeaseUntil = time.Time{}
	r.Reason = reason
	if status == order.StatusCompleted {
		r.PaidAt = now
	}
	return s.finish(r, now)
}

// Cancel implements orderstore.Store.
func (s *Store) Cancel(_ context.Context, id, reason string) (orderstore.Record, error) {
	now := s.cfg.Now()
	defer s.lock('o', id)()
	r, ok, err := s.load(id, now)
	switch {
	case err != nil:
		return orderstore.Record{}, err
	case !ok:
		return orderstore.Record{}, orderstore.ErrNotFound
	case r.Finished():
		return r.Record, orderstore.ErrFinished
	case r.Order.Status != order.StatusPending:
		return r.Record, orderstore.ErrClaimed
	}
	r.Order.Status = order.StatusFailed
	r.Reason = reason
	return s.finish(r, now)
}

// finish writes a finished r, out of the queue. Lock of r held.
func (s *Store) finish(r record, now time.Time) (orderstore.Record, error) {
	old := indexed(r)
	b := s.db.NewBatch()
	defer b.Close()
	if r.Seq != 0 {
		if err := b.Delete(queueKey(r.Seq), nil); err != nil {
			return orderstore.Record{}, err
		}
		r.Seq = 0
	}
	if err := s.write(b, &r, old, now, true); err != nil {
		return orderstore.Record{}, err
	}
	return r.Record, nil
}

// notAccepted reports whether r was cancelled because its order was never
// accepted: Create replaces it.
func notAccepted(r orderstore.Record) bool {
	return r.Order.Status == order.StatusFailed && r.Reason == orderstore.ReasonNotAccepted
}

// Queued returns the orders still queued (accepted and not finished), in
// the order they were accepted: what a restarted process pays.
func (s *Store) Queued(_ context.Context) ([]order.Order, error) {
	now := s.cfg.Now()
	var out []order.Order
	err := s.scan(prefixQueue, func(_, id []byte) error {
		r, ok, err := s.load(string(id), now)
		if err != nil {
			return err
		}
		if ok && !r.Finished() {
			out = append(out, r.Order)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("diskstore: read the queue in %s: %w", s.dir, err)
	}
	return out, nil
}

// Charge implements payment.Books: the charge is on disk when it returns.
func (s *Store) Charge(_ context.Context, key, holder string, result payment.Result) (payment.Result, bool, error) {
	if key == "" {
		return "", false, errors.New("diskstore: a charge needs an idempotency key")
	}
	defer s.lock('c', key)()
	k := chargeKey(key)
	v, closer, err := s.db.Get(k)
	if err == nil {
		var c Charge
		err = json.Unmarshal(v, &c)
		closer.Close()
		if err != nil {
			return "", false, fmt.Errorf("diskstore: charge %s in %s: %w", key, s.dir, err)
		}
		return c.Result, false, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return "", false, fmt.Errorf("diskstore: read charge %s: %w", key, err)
	}
	b, err := json.Marshal(Charge{Result: result, Holder: holder, At: s.cfg.Now().UTC()})
	if err != nil {
		return "", false, err
	}
	s.syncs.Add(1)
	if err := s.db.Set(k, b, pebble.Sync); err != nil {
		return "", false, fmt.Errorf("diskstore: record charge %s: %w", key, err)
	}
	return result, true, nil
}

// Charges returns the charges recorded, by idempotency key.
func (s *Store) Charges(_ context.Context) (map[string]Charge, error) {
	out := map[string]Charge{}
	err := s.scan(prefixCharge, func(key, value []byte) error {
		var c Charge
		if err := json.Unmarshal(value, &c); err != nil {
			return fmt.Errorf("charge %s: %w", key, err)
		}
		out[string(key[len(prefixCharge):])] = c
		return nil
	})
	return out, err
}

// Sweep deletes the records that expired, with their charges, and returns
// how many. It reads only the expiry index up to now, not every record. A
// queued order past its expiry is kept: it is deleted once finished and
// expired again.
func (s *Store) Sweep(_ context.Context) (int, error) {
	now := s.cfg.Now()
	type entry struct {
		key []byte
		id  string
		at  time.Time
	}
	var due []entry
	upper := binary.BigEndian.AppendUint64(append([]byte(nil), prefixExpiry...), uint64(now.UnixNano())+1)
	err := s.scanRange(prefixExpiry, upper, func(k, _ []byte) error {
		if len(k) >= len(prefixExpiry)+8 {
			nanos := binary.BigEndian.Uint64(k[len(prefixExpiry):])
			due = append(due, entry{key: append([]byte(nil), k...), id: string(k[len(prefixExpiry)+8:]), at: time.Unix(0, int64(nanos))})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("diskstore: sweep %s: %w", s.dir, err)
	}
	n := 0
	for _, e := range due {
		unlock := s.lock('o', e.id)
		r, ok, err := s.loadAny(e.id)
		if err == nil {
			b := s.db.NewBatch()
			switch {
			case !ok || !r.ExpiresAt.Equal(e.at): // an index entry left behind
				_ = b.Delete(e.key, nil)
			case r.Seq == 0:
				_ = b.Delete(orderKey(e.id), nil)
				_ = b.Delete(chargeKey(e.id), nil)
				_ = b.Delete(e.key, nil)
				n++
			}
			if !b.Empty() {
				err = b.Commit(pebble.NoSync)
			}
			b.Close()
		}
		unlock()
		if err != nil {
			return n, fmt.Errorf("diskstore: sweep %s: %w", e.id, err)
		}
	}
	return n, nil
}

func (s *Store) sweepLoop() {
	defer close(s.swept)
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			n, err := s.Sweep(context.Background())
			if err != nil {
				s.cfg.Logger.Error("sweeping expired orders", "err", err)
			} else if n > 0 {
				s.cfg.Logger.Debug("expired orders deleted", "orders", n, "retention", s.cfg.Retention)
			}
		}
	}
}

// pebbleLogger sends Pebble's messages to slog: its routine ones at debug
// level, its errors as warnings; a fatal error panics, as Pebble expects.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Warn("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble: " + msg)
	panic("pebble: " + msg)
}
