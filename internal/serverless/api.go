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

// LogRequests wraps h so that each invocation logs one JSON line with the
// route, the status, the order_id of an order response, the duration,
// cold_start and, on the first invocation, init_ms. now is the clock
// (time.Now when nil).
func LogRequests(h HTTPHandler, log *slog.Logger, inv *Invocations, now func() time.Time) HTTPHandler {
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
