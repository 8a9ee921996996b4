// Command processor is the processor Lambda: subscribed to the orders SNS
// topic, it pays each order it receives (the simulated 3-second payment) and
// logs its cold starts. Wiring only: the handler is serverless.Processor.
//
// Each order is paid under a claim in the DynamoDB table named by
// ORDERS_TABLE, so that SNS and Lambda retries, and a worker subscribed to
// the same topic, pay it once.
//
// Every invocation writes one CloudWatch Embedded Metric Format record to
// standard output (namespace flashsale: ColdStart, InitDuration on a cold
// start, PaymentDuration of each payment, with the function's name as
// dimension).
//
// Environment: ORDERS_TABLE, PAYMENT_DELAY (default 3s), PAYMENT_DECLINE_RATE
// (default 0), PAYMENT_SEED, AWS_LAMBDA_LOG_LEVEL, and the AWS SDK's own
// settings (AWS_ENDPOINT_URL_DYNAMODB points it at a local emulator).
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"flashsale/internal/payment"
	"flashsale/internal/serverless"
)

func main() {
	log := serverless.NewLogger(os.Stdout, "processor", os.Getenv(serverless.EnvLogLevel))
	inv := serverless.NewInvocations(serverless.ProcessStart(), nil)
	metrics := serverless.NewMetrics(os.Stdout, serverless.FunctionName("processor"), nil)
	h, err := build(log, inv, metrics)
	if err != nil {
		log.Error("processor not started", "error", err.Error())
		os.Exit(1)
	}
	inv.MarkReady()
	lambda.Start(h.Handle)
}

func build(log *slog.Logger, inv *serverless.Invocations, metrics *serverless.Metrics) (*serverless.Processor, error) {
	cfg, err := serverless.PaymentFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	payer, err := payment.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	var awsCfg aws.Config
	if os.Getenv(serverless.EnvOrdersTable) != "" {
		if awsCfg, err = serverless.AWSConfig(os.Getenv); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
	}
	store, err := serverless.OrderStore(os.Getenv, awsCfg, log)
	if err != nil {
		return nil, fmt.Errorf("order store: %w", err)
	}
	return serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Store: store, Logger: log, Invocations: inv, Metrics: metrics})
}
