package main

import (
	"github.com/cockroachdb/pebble/v2"
	dto "github.com/prometheus/client_model/go"
)

type pebbleEngine struct {
	db *pebble.DB
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

// commits counts the write-ahead log's fsyncs, from Pebble's own fsync
// latency histogram (as diskstore.Store.DiskSyncs does): its commit
// pipeline syncs for a group of commits, which the engine cannot count.
func (e *pebbleEngine) commits() int64 {
	h := e.db.Metrics().LogWriter.FsyncLatency
	if h == nil {
		return -1
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return -1
	}
	return int64(m.GetHistogram().GetSampleCount())
}
func (e *pebbleEngine) close() error { return e.db.Close() }
