// Package httpapi is the order API: one http.Handler for every endpoint,
// served by the local server and, through an adapter, by the API Lambda. It
// depends on small interfaces only (a publisher for the async path, a payer
// for the sync path, an observer for metrics), so the Lambda binary carries
// no Prometheus code.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/payment"
	"flashsale/internal/queue"
)

// DefaultRequestTimeout is the sync path's deadline, as API Gateway's.
const DefaultRequestTimeout = 30 * time.Second

// Paths of the endpoints, as used in metric labels.
const (
	PathSync    = "sync"
	PathAsync   = "async"
	PathHealth  = "health"
	PathMetrics = "metrics"
	PathOther   = "other"
)

// Reasons a request is rejected, as used in metric labels.
const (
	ReasonMalformed        = "malformed"
	ReasonInvalid          = "invalid"
	ReasonTooLarge         = "too_large"
	ReasonUnsupportedMedia = "unsupported_media_type"
	ReasonMethod           = "method_not_allowed"
	ReasonNotFound         = "not_found"
	ReasonQueueFull        = "queue_full"
	ReasonPublishFailed    = "publish_failed"
)

// Publisher hands an order to the queue of the async path.
type Publisher interface {
	Publish(ctx context.Context, o order.Order) error
}

// Payer runs a payment on the sync path (with its concurrency limit).
type Payer interface {
	Pay(ctx context.Context, o order.Order) error
}

// Observer is told what the API does; a Prometheus implementation lives in
// internal/metrics. Implementations must be safe for concurrent use.
type Observer interface {
	OrderAccepted(path string)
	OrderRejected(reason string)
	RequestObserved(path string, code int, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) OrderAccepted(string)                       {}
func (nopObserver) OrderRejected(string)                       {}
func (nopObserver) RequestObserved(string, int, time.Duration) {}

// Config configures the handler.
type Config struct {
	// Publisher carries async orders; required.
	Publisher Publisher
	// Payer pays sync orders; required.
	Payer Payer
	// Ledger, when set, makes the sync path idempotent on order_id: an order
	// already paid is answered as completed without paying again.
	Ledger *payment.Ledger
	// RequestTimeout bounds the sync path; DefaultRequestTimeout when zero.
	RequestTimeout time.Duration
	// RetryAfter is the Retry-After sent with 503; 1 s when zero.
	RetryAfter time.Duration
	// Observer is told of accepted and rejected orders; optional.
	Observer Observer
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// Logger logs failures; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// API serves the order endpoints.
type API struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler, or an error when a required piece is missing.
func New(cfg Config) (*API, error) {
	if cfg.Publisher == nil {
		return nil, errors.New("httpapi: a publisher is required for the async path")
	}
	if cfg.Payer == nil {
		return nil, errors.New("httpapi: a payer is required for the sync path")
	}
	if cfg.RequestTimeout < 0 {
		return nil, fmt.Errorf("httpapi: request timeout %v must not be negative", cfg.RequestTimeout)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.route("POST /orders/sync", PathSync, a.handleSync)
	a.route("POST /orders/async", PathAsync, a.handleAsync)
	a.route("GET /health", PathHealth, a.handleHealth)
	allowed := map[string]string{
		"/orders/sync":  "POST",
		"/orders/async": "POST",
		"/health":       "GET, HEAD",
	}
	if cfg.Metrics != nil {
		a.route("GET /metrics", PathMetrics, cfg.Metrics.ServeHTTP)
		allowed["/metrics"] = "GET, HEAD"
	}
	// Any other method on a known path: 405 with Allow. The method patterns
	// above are more specific, so they win for their methods.
	for path, allow := range allowed {
		a.route(path, PathOther, a.methodNotAllowed(allow))
	}
	a.route("/", PathOther, a.notFound)
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// route registers h under pattern, timing each request for the path label.
func (a *API) route(pattern, path string, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		// A rejected request moves only the rejected counter.
		if !sw.rejected {
			a.cfg.Observer.RequestObserved(path, sw.code, time.Since(start))
		}
	})
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	rejected    bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// AsyncAccepted is the body of a 202 from POST /orders/async.
type AsyncAccepted struct {
	OrderID string       `json:"order_id"`
	Status  order.Status `json:"status"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) reject(w http.ResponseWriter, code int, reason string, body ErrorBody) {
	if sw, ok := w.(*statusWriter); ok {
		sw.rejected = true
	}
	a.cfg.Observer.OrderRejected(reason)
	writeJSON(w, code, body)
}

func (a *API) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		a.reject(w, http.StatusMethodNotAllowed, ReasonMethod,
			ErrorBody{Error: fmt.Sprintf("method %s not allowed; use %s", r.Method, allow)})
	}
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	a.reject(w, http.StatusNotFound, ReasonNotFound, ErrorBody{Error: "no such endpoint: " + r.URL.Path})
}

func (a *API) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// decode reads and validates the order of a request, answering the error
// itself when there is one.
func (a *API) decode(w http.ResponseWriter, r *http.Request) (order.Order, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !isJSON(mt) {
			a.reject(w, http.StatusUnsupportedMediaType, ReasonUnsupportedMedia,
				ErrorBody{Error: fmt.Sprintf("Content-Type %q is not JSON; send application/json", ct)})
			return order.Order{}, false
		}
	}
	if r.ContentLength > order.MaxBodyBytes {
		a.reject(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, tooLarge())
		return order.Order{}, false
	}
	body := http.MaxBytesReader(w, r.Body, order.MaxBodyBytes)
	req, err := order.DecodeRequest(body)
	if err != nil {
		a.rejectDecode(w, err)
		return order.Order{}, false
	}
	o, err := order.New(req, a.cfg.Now())
	if err != nil { // Validate already passed; kept for safety
		a.rejectDecode(w, err)
		return order.Order{}, false
	}
	return o, true
}

func tooLarge() ErrorBody {
	return ErrorBody{Error: fmt.Sprintf("request body larger than %d bytes", order.MaxBodyBytes)}
}

func (a *API) rejectDecode(w http.ResponseWriter, err error) {
	var (
		mbe *http.MaxBytesError
		ve  *order.ValidationError
		de  *order.DecodeError
	)
	switch {
	case errors.As(err, &mbe):
		a.reject(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, tooLarge())
	case errors.As(err, &ve):
		a.reject(w, http.StatusBadRequest, ReasonInvalid, ErrorBody{Error: ve.Error(), Field: ve.Field})
	case errors.As(err, &de):
		a.reject(w, http.StatusBadRequest, ReasonMalformed, ErrorBody{Error: de.Error(), Field: de.Field})
	default:
		a.reject(w, http.StatusBadRequest, ReasonMalformed, ErrorBody{Error: err.Error()})
	}
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || (len(mediaType) > 5 && mediaType[len(mediaType)-5:] == "+json")
}

func (a *API) handleAsync(w http.ResponseWriter, r *http.Request) {
	o, ok := a.decode(w, r)
	if !ok {
		return
	}
	if err := a.cfg.Publisher.Publish(r.Context(), o); err != nil {
		reason := ReasonPublishFailed
		if errors.Is(err, queue.ErrFull) {
			reason = ReasonQueueFull
		}
		a.cfg.Logger.WarnContext(r.Context(), "order not enqueued", "order_id", o.ID, "reason", reason, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(a.cfg.RetryAfter.Round(time.Second)/time.Second)))
		a.reject(w, http.StatusServiceUnavailable, reason,
			ErrorBody{Error: "order not accepted, try again later: " + publishMessage(reason)})
		return
	}
	a.cfg.Observer.OrderAccepted(PathAsync)
	writeJSON(w, http.StatusAccepted, AsyncAccepted{OrderID: o.ID, Status: order.StatusPending})
}

func publishMessage(reason string) string {
	if reason == ReasonQueueFull {
		return "the order queue is full"
	}
	return "the order queue is unavailable"
}

func (a *API) handleSync(w http.ResponseWriter, r *http.Request) {
	o, ok := a.decode(w, r)
	if !ok {
		return
	}
	a.cfg.Observer.OrderAccepted(PathSync)
	// The request's own deadline (the API Lambda's, less a margin) may come
	// before RequestTimeout: the 504 then names the sooner one.
	limit := a.cfg.RequestTimeout
	if d, ok := r.Context().Deadline(); ok {
		limit = min(limit, max(d.Sub(a.cfg.Now()), 0).Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	var err error
	if a.cfg.Ledger != nil && a.cfg.Ledger.Paid(o.ID) {
		err = nil // already paid: answer as completed, pay nothing
	} else {
		err = a.cfg.Payer.Pay(ctx, o)
		if err == nil && a.cfg.Ledger != nil {
			a.cfg.Ledger.Record(o.ID)
		}
	}
	switch {
	case err == nil:
		o.Status = order.StatusCompleted
		writeJSON(w, http.StatusOK, o)
	case errors.Is(err, payment.ErrDeclined):
		o.Status = order.StatusFailed
		writeJSON(w, http.StatusPaymentRequired, o)
	case errors.Is(err, context.DeadlineExceeded):
		a.cfg.Logger.WarnContext(r.Context(), "sync payment timed out", "order_id", o.ID, "timeout", limit)
		writeJSON(w, http.StatusGatewayTimeout, ErrorBody{
			Error: fmt.Sprintf("payment of order %s did not finish within %v", o.ID, limit)})
	default:
		// The client went away (or the payer failed): nothing to answer
		// usefully; record it as a gateway failure.
		a.cfg.Logger.WarnContext(r.Context(), "sync payment failed", "order_id", o.ID, "err", err)
		writeJSON(w, http.StatusGatewayTimeout, ErrorBody{Error: fmt.Sprintf("payment of order %s failed: %v", o.ID, err)})
	}
}
