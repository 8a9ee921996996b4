// Package httpapi is the order API: one http.Handler for every endpoint,
// served by the local server and, through an adapter, by the API Lambda. It
// depends on small interfaces only (a publisher for the async path, a payer
// for the sync path, the order store, an observer for metrics), so the
// Lambda binary carries no Prometheus code.
//
// Every order is recorded in the order store: the async path records it
// pending before publishing it (and cancels it when publishing fails, so
// that it is never paid later), the sync path pays it under a claim (see
// payonce), and GET /orders/{id} answers from the store. A POST repeating
// an order_id with the same payload gets the order's current status and
// pays nothing again; with another payload, 409.
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
	"strings"
	"sync/atomic"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/payonce"
	"flashsale/internal/queue"
)

// DefaultRequestTimeout is the sync path's deadline, as API Gateway's.
const DefaultRequestTimeout = 30 * time.Second

// Paths of the endpoints, as used in metric labels.
const (
	PathSync    = "sync"
	PathAsync   = "async"
	PathStatus  = "status"
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
	ReasonConflict         = "conflict"
	ReasonStoreFailed      = "store_unavailable"
)

// StatusPollInterval is how often a sync request that finds its order
// claimed by another request checks whether it finished.
const StatusPollInterval = 50 * time.Millisecond

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
	// Store records every order; required. It makes both paths idempotent
	// on order_id, across every process that shares it.
	Store orderstore.Store
	// Holder names the processor of a sync request in its claim (the
	// Lambda request ID, say); "<Name>/sync-<n>" when nil.
	Holder func(r *http.Request) string
	// Name prefixes the default holder names; "api" when empty.
	Name string
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
	cfg  Config
	mux  *http.ServeMux
	sync atomic.Int64 // sync requests, for holder names
}

// New returns the API handler, or an error when a required piece is missing.
func New(cfg Config) (*API, error) {
	if cfg.Publisher == nil {
		return nil, errors.New("httpapi: a publisher is required for the async path")
	}
	if cfg.Payer == nil {
		return nil, errors.New("httpapi: a payer is required for the sync path")
	}
	if cfg.Store == nil {
		return nil, errors.New("httpapi: an order store is required")
	}
	if cfg.Name == "" {
		cfg.Name = "api"
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
	a.route("GET /orders/{id}", PathStatus, a.handleStatus)
	a.route("GET /health", PathHealth, a.handleHealth)
	// GET of the POST endpoints: more specific than GET /orders/{id}.
	a.route("GET /orders/sync", PathOther, a.methodNotAllowed("POST"))
	a.route("GET /orders/async", PathOther, a.methodNotAllowed("POST"))
	// Other methods under /orders/: 405 naming what the path allows.
	a.route("/orders/", PathOther, a.ordersOther)
	a.route("/orders", PathOther, a.notFound) // not redirected to /orders/
	allowed := map[string]string{
		"/health": "GET, HEAD",
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

// OrderStatus is the body of GET /orders/{id}, and of a POST that repeats
// an order_id: the order as the store holds it.
type OrderStatus struct {
	OrderID    string       `json:"order_id"`
	CustomerID int64        `json:"customer_id"`
	Items      []order.Item `json:"items"`
	Total      float64      `json:"total"`
	Status     order.Status `json:"status"`
	// Reason says why a failed order failed: declined, or not_accepted
	// (its POST was answered 503; the order_id may be posted again).
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	PaidAt    time.Time `json:"paid_at,omitzero"`
	// Attempts counts the payment attempts (claims).
	Attempts int `json:"attempts"`
	// ProcessedBy is who holds or held the claim: the worker, the Lambda
	// request, the sync request that paid or declined the order.
	ProcessedBy string `json:"processed_by,omitempty"`
}

// StatusOf is the body describing rec.
func StatusOf(rec orderstore.Record) OrderStatus {
	return OrderStatus{
		OrderID: rec.Order.ID, CustomerID: rec.Order.CustomerID, Items: rec.Order.Items, Total: rec.Order.Total(),
		Status: rec.Status(), Reason: rec.Reason, CreatedAt: rec.Order.CreatedAt.UTC(), UpdatedAt: rec.UpdatedAt.UTC(),
		PaidAt: rec.PaidAt.UTC(), Attempts: rec.Attempts, ProcessedBy: rec.Holder,
	}
}

func (a *API) handleStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !order.ValidOrderID(id) {
		a.reject(w, http.StatusBadRequest, ReasonInvalid, ErrorBody{
			Error: fmt.Sprintf("order_id %q: must be 1 to %d characters of A-Z, a-z, 0-9, '_' or '-'", id, order.MaxOrderIDLen),
			Field: "order_id"})
		return
	}
	rec, err := a.cfg.Store.Get(r.Context(), id)
	switch {
	case errors.Is(err, orderstore.ErrNotFound):
		a.reject(w, http.StatusNotFound, ReasonNotFound, ErrorBody{Error: "no order " + id})
	case err != nil:
		a.storeFailed(w, r, id, err)
	default:
		writeJSON(w, http.StatusOK, StatusOf(rec))
	}
}

// ordersOther answers a method the path under /orders/ does not allow.
func (a *API) ordersOther(w http.ResponseWriter, r *http.Request) {
	switch rest := r.URL.Path[len("/orders/"):]; {
	case rest == "sync" || rest == "async":
		a.methodNotAllowed("POST")(w, r)
	case rest != "" && !strings.Contains(rest, "/"):
		a.methodNotAllowed("GET, HEAD")(w, r)
	default:
		a.notFound(w, r)
	}
}

// storeFailed answers 503 when the order store cannot be reached.
func (a *API) storeFailed(w http.ResponseWriter, r *http.Request, id string, err error) {
	a.cfg.Logger.ErrorContext(r.Context(), "order store unavailable", "order_id", id, "err", err)
	w.Header().Set("Retry-After", a.retryAfter())
	a.reject(w, http.StatusServiceUnavailable, ReasonStoreFailed,
		ErrorBody{Error: "the order store is unavailable, try again later"})
}

func (a *API) retryAfter() string {
	return strconv.Itoa(int(a.cfg.RetryAfter.Round(time.Second) / time.Second))
}

// conflict answers 409 for an order_id recorded with another payload,
// naming the first field that differs.
func (a *API) conflict(w http.ResponseWriter, o order.Order, rec orderstore.Record) {
	field := "items"
	if rec.Order.CustomerID != o.CustomerID {
		field = "customer_id"
	}
	a.reject(w, http.StatusConflict, ReasonConflict, ErrorBody{
		Error: fmt.Sprintf("order_id %s is already used for another order (its %s differs): use a new order_id", o.ID, field),
		Field: field})
}

// repeated answers a POST that repeats a recorded order with the same
// payload: the order's current status, nothing done again.
func (a *API) repeated(w http.ResponseWriter, r *http.Request, path string, rec orderstore.Record) {
	a.cfg.Logger.InfoContext(r.Context(), "order posted again: its status answered", "order_id", rec.Order.ID, "path", path, "status", rec.Status())
	writeJSON(w, http.StatusOK, StatusOf(rec))
}

func (a *API) handleAsync(w http.ResponseWriter, r *http.Request) {
	o, ok := a.decode(w, r)
	if !ok {
		return
	}
	// Recorded pending before it is published, so that a GET right after
	// the 202 finds it, and a repeat pays nothing again.
	rec, err := a.cfg.Store.Create(r.Context(), o)
	switch {
	case errors.Is(err, orderstore.ErrExists):
		a.repeated(w, r, PathAsync, rec)
		return
	case errors.Is(err, orderstore.ErrConflict):
		a.conflict(w, o, rec)
		return
	case err != nil:
		a.storeFailed(w, r, o.ID, err)
		return
	}
	if err := a.cfg.Publisher.Publish(r.Context(), o); err != nil {
		if a.unpublished(w, r, o, err) {
			return
		}
	}
	a.cfg.Observer.OrderAccepted(PathAsync)
	writeJSON(w, http.StatusAccepted, AsyncAccepted{OrderID: o.ID, Status: order.StatusPending})
}

// unpublished handles a failed publish: the order is cancelled in the
// store, so that a message that went out all the same is never paid, and
// the client gets 503. It reports false when the order turns out to be in
// the system after all (a processor already holds it): it is accepted.
func (a *API) unpublished(w http.ResponseWriter, r *http.Request, o order.Order, perr error) bool {
	ctx := context.WithoutCancel(r.Context())
	rec, err := a.cfg.Store.Cancel(ctx, o.ID, orderstore.ReasonNotAccepted)
	if errors.Is(err, orderstore.ErrClaimed) || (errors.Is(err, orderstore.ErrFinished) && rec.Reason != orderstore.ReasonNotAccepted) {
		a.cfg.Logger.WarnContext(ctx, "publish reported a failure, but the order reached a processor: accepted",
			"order_id", o.ID, "status", rec.Status(), "err", perr)
		return false
	}
	if err != nil {
		// Pending with no message: never paid, unless the message went
		// out after all. Said loudly: this is the one case the store
		// cannot settle.
		a.cfg.Logger.ErrorContext(ctx, "order not enqueued, and cancelling it failed: it stays pending",
			"order_id", o.ID, "publish_err", perr, "err", err)
	}
	reason := ReasonPublishFailed
	if errors.Is(perr, queue.ErrFull) {
		reason = ReasonQueueFull
	}
	a.cfg.Logger.WarnContext(ctx, "order not enqueued", "order_id", o.ID, "reason", reason, "err", perr)
	w.Header().Set("Retry-After", a.retryAfter())
	a.reject(w, http.StatusServiceUnavailable, reason,
		ErrorBody{Error: "order not accepted, try again later: " + publishMessage(reason)})
	return true
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
	// The request's own deadline (the API Lambda's, less a margin) may come
	// before RequestTimeout: the 504 then names the sooner one.
	limit := a.cfg.RequestTimeout
	if d, ok := r.Context().Deadline(); ok {
		limit = min(limit, max(d.Sub(a.cfg.Now()), 0).Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	holder := a.holder(r)
	res, err := a.paySync(ctx, o, holder)
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		a.cfg.Logger.WarnContext(r.Context(), "sync payment timed out", "order_id", o.ID, "timeout", limit)
		a.cfg.Observer.OrderAccepted(PathSync)
		writeJSON(w, http.StatusGatewayTimeout, ErrorBody{
			Error: fmt.Sprintf("payment of order %s did not finish within %v", o.ID, limit)})
		return
	case errors.Is(err, errPayment):
		// The client went away (or the payer failed): nothing to answer
		// usefully; record it as a gateway failure.
		a.cfg.Logger.WarnContext(r.Context(), "sync payment failed", "order_id", o.ID, "err", err)
		a.cfg.Observer.OrderAccepted(PathSync)
		writeJSON(w, http.StatusGatewayTimeout, ErrorBody{Error: fmt.Sprintf("payment of order %s failed: %v", o.ID, err)})
		return
	default:
		a.storeFailed(w, r, o.ID, err)
		return
	}
	switch res.Outcome {
	case payonce.Conflict:
		a.conflict(w, o, res.Record)
	case payonce.Finished:
		a.repeated(w, r, PathSync, res.Record)
	case payonce.Busy: // another request still pays it, past our deadline
		a.cfg.Observer.OrderAccepted(PathSync)
		writeJSON(w, http.StatusAccepted, AsyncAccepted{OrderID: o.ID, Status: res.Record.Status()})
	case payonce.Declined:
		a.cfg.Observer.OrderAccepted(PathSync)
		writeJSON(w, http.StatusPaymentRequired, res.Record.Order)
	default: // Paid
		a.cfg.Observer.OrderAccepted(PathSync)
		writeJSON(w, http.StatusOK, res.Record.Order)
	}
}

// errPayment marks a sync payment that did not finish (as opposed to a
// store failure).
var errPayment = errors.New("payment did not finish")

// paySync pays o once under a claim. When another request holds the
// order, it waits for that one's outcome until ctx ends, and takes the
// order over if that holder's claim runs out (see payonce.ProcessWaiting).
func (a *API) paySync(ctx context.Context, o order.Order, holder string) (payonce.Result, error) {
	lease := a.cfg.RequestTimeout + time.Second
	for {
		res, err := payonce.ProcessWaiting(ctx, a.cfg.Store, a.cfg.Payer, o, holder, lease, StatusPollInterval)
		if err != nil {
			if res.Record.Order.ID != "" && res.Outcome == 0 { // claimed: the payment failed
				if errors.Is(err, context.DeadlineExceeded) {
					return res, err
				}
				return res, fmt.Errorf("%w: %w", errPayment, err)
			}
			return res, err
		}
		if res.Outcome != payonce.Finished || res.Record.Reason != orderstore.ReasonNotAccepted {
			return res, nil
		}
		// An async post of this order_id was never accepted: this one is a
		// new order.
		if rec, err := a.cfg.Store.Create(ctx, o); errors.Is(err, orderstore.ErrConflict) {
			return payonce.Result{Outcome: payonce.Conflict, Record: rec}, nil
		} else if err != nil && !errors.Is(err, orderstore.ErrExists) {
			return res, err
		}
	}
}

// holder names the claim of a sync request.
func (a *API) holder(r *http.Request) string {
	if a.cfg.Holder != nil {
		if h := a.cfg.Holder(r); h != "" {
			return h
		}
	}
	return fmt.Sprintf("%s/sync-%d", a.cfg.Name, a.sync.Add(1))
}
