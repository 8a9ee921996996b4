package serverless

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPHandler is a handler of API Gateway HTTP API events (payload format
// 2.0), such as aws-lambda-go-api-proxy's HandlerAdapterV2.ProxyWithContext.
type HTTPHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// DefaultDeadlineMargin is how long before the invocation's deadline the API
// function's handler context ends: time enough for the handler's own answer
// (a JSON 503 or 504) to reach Lambda before Lambda cuts the invocation off
// and the client gets API Gateway's bare 5xx instead.
const DefaultDeadlineMargin = time.Second

// WithDeadlineMargin wraps h so that the context it gets ends margin before
// the invocation's deadline (the Lambda timeout). When less than twice margin
// remains, the context ends halfway to the deadline instead, so that a short
// timeout still leaves the handler half of its time. A context without a
// deadline, or a margin of zero or less, is passed unchanged. now is the
// clock (time.Now when nil).
func WithDeadlineMargin(h HTTPHandler, margin time.Duration, now func() time.Time) HTTPHandler {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		deadline, ok := ctx.Deadline()
		if !ok || margin <= 0 {
			return h(ctx, req)
		}
		cut := margin
		if remaining := deadline.Sub(now()); remaining < 2*margin {
			cut = max(remaining/2, 0)
		}
		ctx, cancel := context.WithDeadline(ctx, deadline.Add(-cut))
		defer cancel()
		return h(ctx, req)
	}
}

// LogRequests wraps h so that each invocation logs one JSON line with the
// route, the status, the order_id of an order response, the duration,
// cold_start and, on the first invocation, init_ms (and ready_ms when the
// function marked itself ready). now is the clock (time.Now when nil).
func LogRequests(h HTTPHandler, log *slog.Logger, inv *Invocations, now func() time.Time) HTTPHandler {
	return LogRequestsWithMetrics(h, log, inv, nil, now)
}

// LogRequestsWithMetrics is LogRequests that also writes, after each
// invocation, its EMF record (cold start and init duration) to m; a nil m
// writes none.
func LogRequestsWithMetrics(h HTTPHandler, log *slog.Logger, inv *Invocations, m *Metrics, now func() time.Time) HTTPHandler {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		i := inv.Next()
		start := now()
		resp, err := h(ctx, req)
		attrs := append(i.Attrs(),
			"method", req.RequestContext.HTTP.Method,
			"path", req.RawPath,
			"status", resp.StatusCode,
			"duration_ms", ms(now().Sub(start)),
		)
		if id := responseOrderID(resp); id != "" {
			attrs = append(attrs, FieldOrderID, id)
		}
		level := slog.LevelInfo
		if err != nil {
			attrs = append(attrs, "error", err.Error())
			level = slog.LevelError
		} else if resp.StatusCode >= 500 {
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "request", attrs...)
		if merr := m.Invocation(ctx, i, nil); merr != nil {
			log.ErrorContext(ctx, "metrics not written", "error", merr.Error())
		}
		return resp, err
	}
}

// responseOrderID is the order_id of a JSON response body, or "".
func responseOrderID(resp events.APIGatewayV2HTTPResponse) string {
	if resp.IsBase64Encoded || len(resp.Body) == 0 || resp.Body[0] != '{' {
		return ""
	}
	var body struct {
		OrderID string `json:"order_id"`
	}
	if json.Unmarshal([]byte(resp.Body), &body) != nil {
		return ""
	}
	return body.OrderID
}
