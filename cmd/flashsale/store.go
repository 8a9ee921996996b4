package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/payment"
	"flashsale/internal/payment/books"
)

// storeFlags are the order store's and the payment provider's flags, shared
// by serve and worker.
type storeFlags struct {
	table     string
	retention time.Duration
	books     string
}

func (f *storeFlags) register(fs flagSet, retention time.Duration, retentionHelp string) {
	f.registerTable(fs)
	f.registerLocal(fs, retention, retentionHelp)
}

func (f *storeFlags) registerTable(fs flagSet) {
	fs.StringVar(&f.table, "orders-table", "", "DynamoDB table of the order store, shared with every process that takes or pays the same orders (create it with `flashsale table create`); honours --endpoint-url")
}

func (f *storeFlags) registerLocal(fs flagSet, retention time.Duration, retentionHelp string) {
	fs.DurationVar(&f.retention, "order-retention", retention, retentionHelp)
	fs.StringVar(&f.books, "payment-books", "", "file standing in for the simulated payment provider's record of charges, shared by every process on this machine that names it, so that an order taken over from a killed process is not charged twice (default: each process remembers its own)")
}

func (f *storeFlags) validate() error {
	if f.retention <= 0 {
		return fmt.Errorf("--order-retention %v: must be positive", f.retention)
	}
	return nil
}

// openTable returns the DynamoDB order store of --orders-table, after
// checking that the table exists.
func (f *storeFlags) openTable(ctx context.Context, cfg aws.Config) (*dynamostore.Store, error) {
	client := dynamodb.NewFromConfig(cfg)
	if err := dynamostore.Check(ctx, client, f.table); err != nil {
		if errors.Is(err, dynamostore.ErrNoTable) {
			return nil, fmt.Errorf("orders table %s does not exist at %s: create it with `flashsale table create --orders-table %s`",
				f.table, endpointOf(cfg), f.table)
		}
		return nil, fmt.Errorf("orders table %s at %s: %w", f.table, endpointOf(cfg), err)
	}
	return dynamostore.New(client, dynamostore.Config{Table: f.table, Retention: f.retention})
}

// openBooks opens --payment-books; nil books when it is not set.
func (f *storeFlags) openBooks() (payment.Books, func(), error) {
	if f.books == "" {
		return nil, func() {}, nil
	}
	b, err := books.Open(f.books)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = b.Close() }, nil
}
