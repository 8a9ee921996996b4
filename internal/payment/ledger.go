package payment

import (
	"sync"
)

// Ledger remembers which orders were paid, so that a redelivered order (SNS
// and SQS deliver at least once) or a retried sync request with the same
// order_id is not paid twice. It holds at most a bounded number of IDs,
// forgetting the oldest first. It is safe for concurrent use.
//
// A Ledger lives in one process: it protects against duplicates that reach
// that process. Across processes, a shared store with a conditional write
// (for example DynamoDB) is needed; see the README.
type Ledger struct {
	mu    sync.Mutex
	max   int
	paid  map[string]struct{}
	order []string // insertion order, for eviction
	head  int
}

// DefaultLedgerSize is how many paid order IDs a Ledger remembers by default.
const DefaultLedgerSize = 1 << 20

// NewLedger returns a ledger remembering up to max order IDs (a default when
// max <= 0).
func NewLedger(max int) *Ledger {
	if max <= 0 {
		max = DefaultLedgerSize
	}
	return &Ledger{max: max, paid: make(map[string]struct{})}
}

// Paid reports whether the order with this ID was recorded as paid.
func (l *Ledger) Paid(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.paid[id]
	return ok
}

// Record marks the order as paid. It reports false when it was already.
func (l *Ledger) Record(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.paid[id]; ok {
		return false
	}
	if len(l.paid) >= l.max {
		oldest := l.order[l.head]
		delete(l.paid, oldest)
		l.order[l.head] = id
		l.head = (l.head + 1) % l.max
	} else {
		l.order = append(l.order, id)
	}
	l.paid[id] = struct{}{}
	return true
}

// Len is the number of IDs remembered.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.paid)
}
