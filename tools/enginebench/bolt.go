package main

import (
	"context"
	"encoding/binary"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

type boltEngine struct {
	db *bolt.DB
	g  groupCommit
}

var (
	ordersB = []byte("orders")
	queueB  = []byte("queue")
)

func openBolt(dir string) (engine, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(ordersB); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(queueB)
		return err
	}); err != nil {
		return nil, err
	}
	e := &boltEngine{db: db}
	e.g.commit = func(fns []func(any) error) error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, fn := range fns {
				if err := fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return e, nil
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func (e *boltEngine) accept(id string, record []byte, seq uint64) error {
	return e.g.do(context.Background(), func(t any) error {
		tx := t.(*bolt.Tx)
		if err := tx.Bucket(ordersB).Put([]byte(id), record); err != nil {
			return err
		}
		return tx.Bucket(queueB).Put(seqKey(seq), []byte(id))
	})
}

func (e *boltEngine) finish(id string, record []byte, seq uint64) error {
	return e.g.do(context.Background(), func(t any) error {
		tx := t.(*bolt.Tx)
		if err := tx.Bucket(ordersB).Put([]byte(id), record); err != nil {
			return err
		}
		return tx.Bucket(queueB).Delete(seqKey(seq))
	})
}

func (e *boltEngine) commits() int64 { return e.g.n.Load() }
func (e *boltEngine) close() error   { return e.db.Close() }
