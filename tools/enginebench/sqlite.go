package main

import (
	"context"
	"database/sql"
	"path/filepath"

	_ "modernc.org/sqlite"
)

type sqliteEngine struct {
	db *sql.DB
	g  groupCommit
}

func openSQLite(dir string) (engine, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "orders.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY, id TEXT NOT NULL);`); err != nil {
		return nil, err
	}
	e := &sqliteEngine{db: db}
	e.g.commit = func(fns []func(any) error) error {
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		for _, fn := range fns {
			if err := fn(tx); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
	return e, nil
}

func (e *sqliteEngine) accept(id string, record []byte, seq uint64) error {
	return e.g.do(context.Background(), func(t any) error {
		tx := t.(*sql.Tx)
		if _, err := tx.Exec(`INSERT INTO orders (id, record) VALUES (?, ?)`, id, record); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO queue (seq, id) VALUES (?, ?)`, int64(seq), id)
		return err
	})
}

func (e *sqliteEngine) finish(id string, record []byte, seq uint64) error {
	return e.g.do(context.Background(), func(t any) error {
		tx := t.(*sql.Tx)
		if _, err := tx.Exec(`UPDATE orders SET record = ? WHERE id = ?`, record, id); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM queue WHERE seq = ?`, int64(seq))
		return err
	})
}

func (e *sqliteEngine) commits() int64 { return e.g.n.Load() }
func (e *sqliteEngine) close() error   { return e.db.Close() }
