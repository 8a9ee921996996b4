// Command api is the API Lambda: behind an API Gateway HTTP API (payload
// format 2.0) it serves the same internal/httpapi handler as the local
// server, through aws-lambda-go-api-proxy. The async path publishes to the
// SNS topic named by ORDERS_TOPIC_ARN; the sync path pays inline. Wiring
// only.
//
// Every order is recorded in the DynamoDB table named by ORDERS_TABLE:
// pending before it is published, paid under a claim on the sync path, and
// read back by GET /orders/{id}.
//
// Environment: ORDERS_TOPIC_ARN (required), ORDERS_TABLE, PAYMENT_DELAY (default 3s),
// PAYMENT_DECLINE_RATE, PAYMENT_SEED, REQUEST_TIMEOUT (the sync path's
// deadline, default 25s), PUBLISH_TIMEOUT (one SNS publish, default 5s),
// AWS_LAMBDA_LOG_LEVEL, and the AWS SDK's own settings
// (AWS_ENDPOINT_URL_SNS and AWS_ENDPOINT_URL_DYNAMODB point it at a local
// emulator).
//
// Every invocation writes one CloudWatch Embedded Metric Format record to
// standard output (namespace flashsale: ColdStart, and InitDuration on a
// cold start, with the function's name as dimension).
//
// Every request's context ends serverless.DefaultDeadlineMargin before the
// Lambda deadline, so that the handler's own JSON 503 or 504 is returned
// before Lambda times the invocation out.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"flashsale/internal/httpapi"
	"flashsale/internal/payment"
	"flashsale/internal/queue/sns"
	"flashsale/internal/serverless"
)

func main() {
	log := serverless.NewLogger(os.Stdout, "api", os.Getenv(serverless.EnvLogLevel))
	inv := serverless.NewInvocations(serverless.ProcessStart(), nil)
	metrics := serverless.NewMetrics(os.Stdout, serverless.FunctionName("api"), nil)
	h, err := build(context.Background(), log, inv, metrics)
	if err != nil {
		log.Error("api not started", "error", err.Error())
		os.Exit(1)
	}
	inv.MarkReady()
	lambda.Start(h)
}

func build(ctx context.Context, log *slog.Logger, inv *serverless.Invocations, metrics *serverless.Metrics) (serverless.HTTPHandler, error) {
	env, err := serverless.APIFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	awsCfg, err := serverless.AWSConfig(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	snsClient := awssns.NewFromConfig(awsCfg, func(o *awssns.Options) { o.BaseEndpoint = serverless.Endpoint(os.Getenv, "SNS") })
	publisher, err := sns.New(snsClient, env.TopicARN, sns.WithTimeout(env.PublishTimeout))
	if err != nil {
		return nil, err
	}
	store, err := serverless.OrderStore(os.Getenv, awsCfg, log)
	if err != nil {
		return nil, fmt.Errorf("order store: %w", err)
	}
	pcfg, err := serverless.PaymentFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	payer, err := payment.New(pcfg)
	if err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	// No payment limiter: an execution environment serves one request at a
	// time, so Lambda's concurrency is the sync path's concurrency.
	api, err := httpapi.New(httpapi.Config{
		Publisher:      publisher,
		Payer:          payer,
		Store:          store,
		Holder:         requestID,
		RequestTimeout: env.RequestTimeout,
		Logger:         log,
	})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	adapter := httpadapter.NewV2(api)
	h := serverless.WithDeadlineMargin(adapter.ProxyWithContext, serverless.DefaultDeadlineMargin, nil)
	return serverless.LogRequestsWithMetrics(h, log, inv, metrics, nil), nil
}

// requestID names a sync request's claim after its Lambda request.
func requestID(r *http.Request) string {
	if lc, ok := lambdacontext.FromContext(r.Context()); ok && lc.AwsRequestID != "" {
		return "api/" + lc.AwsRequestID
	}
	return ""
}
