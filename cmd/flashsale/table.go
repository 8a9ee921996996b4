package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/orderstore/dynamostore"
)

func init() {
	register(&command{
		name:    "table",
		summary: "manage the DynamoDB orders table: table create makes it with the order store's key schema and TTL",
		run:     runTable,
	})
}

func runTable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	help := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: flashsale table create --orders-table NAME [--endpoint-url URL]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Subcommands:")
		fmt.Fprintln(w, "  create   create the orders table (key order_id, on-demand, TTL on expires_at) and wait until it is active")
	}
	return runSubcommand(args, stdout, stderr, help, map[string]func([]string) error{
		"create": func(args []string) error { return runTableCreate(ctx, args, stdout) },
	})
}

func runTableCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var table, endpoint string
	fs := newFlagSet("table create", "--orders-table NAME [--endpoint-url URL]",
		"Creates the DynamoDB table of the order store with the key schema and TTL it relies on\n"+
			"(partition key order_id, a string; on-demand billing; TTL on expires_at), for an\n"+
			"emulator such as moto_server or for running serve and worker outside a stack. An existing\n"+
			"table is left as it is, and said so (exit status 1). AWS settings come from the SDK's\n"+
			"environment (AWS_REGION, credentials, AWS_ENDPOINT_URL).", stdout)
	fs.StringVar(&table, "orders-table", "", "name of the table to create (required)")
	fs.StringVar(&endpoint, "endpoint-url", "", "AWS endpoint, e.g. http://127.0.0.1:5000 for moto_server (default: the SDK's, AWS_ENDPOINT_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if table == "" {
		return usageError{errors.New("--orders-table is required")}
	}
	cfg, err := loadAWSConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	client := dynamodb.NewFromConfig(cfg)
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		if errors.Is(err, dynamostore.ErrTableExists) {
			return fmt.Errorf("table %s already exists at %s: nothing changed", table, endpointOf(cfg))
		}
		return err
	}
	fmt.Fprintf(stdout, "created table %s at %s: key %s, TTL on %s\n", table, endpointOf(cfg), dynamostore.KeyAttribute, dynamostore.TTLAttribute)
	return nil
}
