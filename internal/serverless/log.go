// Package serverless holds what the Lambda functions in functions/ run
// besides wiring: the processor's SNS handler, the API's invocation log, the
// cold-start bookkeeping and the structured JSON logger they share, and the
// parsing of their environment. It imports only the order domain, the
// payment processor and aws-lambda-go, so the processor's bootstrap stays
// small; the SNS client and the HTTP adapter are wired in functions/api.
package serverless

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"flashsale/internal/serverless/processstart"
)

// Log field names. The cold-start analyser parses cold_start, init_ms,
// request_id and function; keep them. ready_ms is for people (and Logs
// Insights): the analyser ignores it.
const (
	FieldColdStart = "cold_start"
	FieldInitMS    = "init_ms"
	FieldReadyMS   = "ready_ms"
	FieldRequestID = "request_id"
	FieldOrderID   = "order_id"
	FieldFunction  = "function"
)

// ProcessStart is when this process started (to within the Go runtime's own
// start-up): the origin of init_ms. See package processstart.
func ProcessStart() time.Time { return processstart.Time() }

// NewLogger returns a JSON logger writing to w that adds, to every record
// logged with a Lambda invocation's context, the invocation's request_id, and
// to every record the function name (AWS_LAMBDA_FUNCTION_NAME, or fallback
// when it is unset). Keys follow Lambda's JSON log format (timestamp,
// message); the level comes from AWS_LAMBDA_LOG_LEVEL (INFO by default).
func NewLogger(w io.Writer, fallback string, levelName string) *slog.Logger {
	name := FunctionName(fallback)
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: ParseLevel(levelName), ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(requestIDHandler{h}).With(FieldFunction, name)
}

// ParseLevel maps Lambda's log level names (DEBUG, INFO, WARN, ERROR; any
// case) to slog levels, INFO for anything else.
func ParseLevel(name string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// requestIDHandler adds the Lambda request ID found in a record's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String(FieldRequestID, lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
