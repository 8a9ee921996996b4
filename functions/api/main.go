// Command api is the API Lambda: behind an API Gateway HTTP API (payload
// format 2.0) it serves the same internal/httpapi handler as the local
// server, through aws-lambda-go-api-proxy. The async path publishes to the
// SNS topic named by ORDERS_TOPIC_ARN; the sync path pays inline. Wiring
// only.
//
// Environment: ORDERS_TOPIC_ARN (required), PAYMENT_DELAY (default 3s),
// PAYMENT_DECLINE_RATE, PAYMENT_SEED, REQUEST_TIMEOUT (the sync path's
// deadline, default 30s), AWS_LAMBDA_LOG_LEVEL, and the AWS SDK's own
// settings (AWS_ENDPOINT_URL_SNS points it at a local emulator).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"flashsale/internal/httpapi"
	"flashsale/internal/payment"
	"flashsale/internal/queue/sns"
	"flashsale/internal/serverless"
)

func main() {
	log := serverless.NewLogger(os.Stdout, "api", os.Getenv(serverless.EnvLogLevel))
	h, err := build(context.Background(), log)
	if err != nil {
		log.Error("api not started", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

func build(ctx context.Context, log *slog.Logger) (serverless.HTTPHandler, error) {
	topic, err := serverless.Required(os.Getenv, serverless.EnvTopicARN)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	publisher, err := sns.NewFromEnv(ctx, topic)
	if err != nil {
		return nil, err
	}
	pcfg, err := serverless.PaymentFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	payer, err := payment.New(pcfg)
	if err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	timeout, err := serverless.Duration(os.Getenv, serverless.EnvRequestTimeout, 0)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	// No payment limiter: an execution environment serves one request at a
	// time, so Lambda's concurrency is the sync path's concurrency.
	api, err := httpapi.New(httpapi.Config{
		Publisher:      publisher,
		Payer:          payer,
		Ledger:         payment.NewLedger(0),
		RequestTimeout: timeout,
		Logger:         log,
	})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	adapter := httpadapter.NewV2(api)
	inv := serverless.NewInvocations(serverless.ProcessStart(), nil)
	return serverless.LogRequests(adapter.ProxyWithContext, log, inv, nil), nil
}
