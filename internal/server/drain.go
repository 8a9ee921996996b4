package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
)

// ReasonShuttingDown is the flashsale_orders_rejected_total reason of an
// order refused because the server is draining.
const ReasonShuttingDown = "shutting_down"

// drainGate keeps the server answering while it drains: once closed,
// GET /health answers 503 {"status":"draining"} (so that a load balancer
// stops sending orders) and every other request but GET /metrics a 503 with
// Retry-After, instead of connections being refused. close waits for the
// requests that were let through to finish.
type drainGate struct {
	next     http.Handler
	rejected func(reason string)
	draining atomic.Bool
	mu       sync.RWMutex // held for reading by each request let through
}

func (g *drainGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		g.next.ServeHTTP(w, r)
		return
	}
	if !g.draining.Load() {
		g.mu.RLock()
		// Checked again under the lock: close sets the flag, then waits
		// for the lock; a request that got it after close must not reach
		// a queue that is being closed.
		if !g.draining.Load() {
			defer g.mu.RUnlock()
			g.next.ServeHTTP(w, r)
			return
		}
		g.mu.RUnlock()
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/health" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "draining"})
		return
	}
	g.rejected(ReasonShuttingDown)
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "the server is shutting down; retry on another instance"})
}

// close starts draining and waits until every request let through before
// has finished.
func (g *drainGate) close() {
	g.draining.Store(true)
	g.mu.Lock()
	g.mu.Unlock() // an empty critical section: waiting for the readers is the point
}
