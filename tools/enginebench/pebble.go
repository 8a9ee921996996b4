package main

import (
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

type pebbleEngine struct {
	db *pebble.DB
	n  atomic.Int64
}

func openPebble(dir string) (engine, error) {
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return nil, err
	}
	return &pebbleEngine{db: db}, nil
}

// Pebble's commit pipeline shares one WAL sync among concurrent
// Sync commits: its own group commit.
func (e *pebbleEngine) accept(id string, record []byte, seq uint64) error {
	b := e.db.NewBatch()
	defer b.Close()
	_ = b.Set(append([]byte("o/"), id...), record, nil)
	_ = b.Set(append([]byte("q/"), seqKey(seq)...), []byte(id), nil)
	return b.Commit(pebble.Sync)
}

func (e *pebbleEngine) finish(id string, record []byte, seq uint64) error {
	b := e.db.NewBatch()
	defer b.Close()
	_ = b.Set(append([]byte("o/"), id...), record, nil)
	_ = b.Delete(append([]byte("q/"), seqKey(seq)...), nil)
	return b.Commit(pebble.Sync)
}

func (e *pebbleEngine) commits() int64 {
	return -1 // Pebble syncs inside its commit pipeline: count with strace
}
func (e *pebbleEngine) close() error { return e.db.Close() }
