// Command processor is the processor Lambda: subscribed to the orders SNS
// topic, it pays each order it receives (the simulated 3-second payment) and
// logs its cold starts. Wiring only: the handler is serverless.Processor.
//
// Environment: PAYMENT_DELAY (default 3s), PAYMENT_DECLINE_RATE (default 0),
// PAYMENT_SEED, AWS_LAMBDA_LOG_LEVEL.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"flashsale/internal/payment"
	"flashsale/internal/serverless"
)

func main() {
	log := serverless.NewLogger(os.Stdout, "processor", os.Getenv(serverless.EnvLogLevel))
	inv := serverless.NewInvocations(serverless.ProcessStart(), nil)
	h, err := build(log, inv)
	if err != nil {
		log.Error("processor not started", "error", err.Error())
		os.Exit(1)
	}
	inv.MarkReady()
	lambda.Start(h.Handle)
}

func build(log *slog.Logger, inv *serverless.Invocations) (*serverless.Processor, error) {
	cfg, err := serverless.PaymentFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	payer, err := payment.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	return serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Logger: log, Invocations: inv})
}
