// Package books is a file that stands in for a payment provider's record of
// charges, shared by every process on one machine that opens it: the
// simulated provider's idempotency keys outlive the process that charged,
// as a real provider's do. A charge is one line, appended under an
// exclusive lock on the file, so the charge and its record are one write:
// a process killed at any point has charged and recorded, or neither.
//
//	<key>\t<result>\t<holder>\t<RFC 3339 time>\n
package books

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"flashsale/internal/payment"
)

// Books is a charge record in a file; safe for concurrent use by
// goroutines and by processes.
type Books struct {
	path string
	mu   sync.Mutex
	f    *os.File
	off  int64                     // bytes of the file read into seen
	seen map[string]payment.Result // key -> its first result
}

var _ payment.Books = (*Books)(nil)

// Open opens (creating it when missing) the books at path.
func Open(path string) (*Books, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("payment books: %w", err)
	}
	return &Books{path: path, f: f, seen: make(map[string]payment.Result)}, nil
}

// Close closes the file.
func (b *Books) Close() error { return b.f.Close() }

// Charge implements payment.Books.
func (b *Books) Charge(_ context.Context, key, holder string, result payment.Result) (payment.Result, bool, error) {
	if key == "" || strings.ContainsAny(key+holder, "\t\n") {
		return "", false, fmt.Errorf("payment books: key %q, holder %q: empty key, or a tab or newline", key, holder)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fd := int(b.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return "", false, fmt.Errorf("payment books %s: lock: %w", b.path, err)
	}
	defer func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }() // closing the fd unlocks too
	if err := b.catchUp(); err != nil {
		return "", false, err
	}
	if r, ok := b.seen[key]; ok {
		return r, false, nil
	}
	line := fmt.Sprintf("%s\t%s\t%s\t%s\n", key, result, holder, time.Now().UTC().Format(time.RFC3339Nano))
	n, err := b.f.Write([]byte(line))
	b.off += int64(n)
	if err != nil {
		return "", false, fmt.Errorf("payment books %s: %w", b.path, err)
	}
	b.seen[key] = result
	return result, true, nil
}

// catchUp reads the lines other processes appended since the last call.
// Lock held.
func (b *Books) catchUp() error {
	data, err := io.ReadAll(io.NewSectionReader(b.f, b.off, 1<<62))
	if err != nil {
		return fmt.Errorf("payment books %s: %w", b.path, err)
	}
	// A line cut short (a write that never finished) ends without \n: it
	// stays unread, and is the only one that may.
	end := bytes.LastIndexByte(data, '\n') + 1
	entries, err := Parse(bytes.NewReader(data[:end]))
	if err != nil {
		return fmt.Errorf("payment books %s: %w", b.path, err)
	}
	for _, e := range entries {
		if _, ok := b.seen[e.Key]; !ok {
			b.seen[e.Key] = e.Result
		}
	}
	b.off += int64(end)
	return nil
}

// Entry is one charge in the books.
type Entry struct {
	Key    string
	Result payment.Result
	Holder string
	At     time.Time
}

// Parse reads the entries of a books file.
func Parse(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			return out, fmt.Errorf("line %d: %d fields, want 4", n, len(f))
		}
		at, err := time.Parse(time.RFC3339Nano, f[3])
		if err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, Entry{Key: f[0], Result: payment.Result(f[1]), Holder: f[2], At: at})
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}
