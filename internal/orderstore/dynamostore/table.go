package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// ErrTableExists is returned by CreateTable when the table is already there.
var ErrTableExists = errors.New("dynamostore: the table already exists")

// CreateTable creates the orders table the store relies on: key
// order_id (string), on-demand billing, TTL on expires_at; and waits until
// it is active (up to a minute). An existing table is ErrTableExists.
func CreateTable(ctx context.Context, client TableAPI, name string) error {
	// One attempt: when the SDK retries a CreateTable whose first attempt
	// created the table but lost its answer, the retry finds the table and
	// would report it as someone else's. A failed attempt is settled by
	// looking for the table instead.
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(KeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(KeyAttribute), KeyType: types.KeyTypeHash}},
	}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return fmt.Errorf("%w: %s", ErrTableExists, name)
	}
	if err != nil {
		if _, derr := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); derr != nil {
			return fmt.Errorf("dynamostore: create table %s: %w", name, err)
		}
		// The attempt's answer was lost, but the table is there.
	}
	waiter := dynamodb.NewTableExistsWaiter(client)
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("dynamostore: table %s not active: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("dynamostore: table %s: enable TTL on %s: %w", name, TTLAttribute, err)
	}
	return nil
}

// DescribeAPI is the part of the DynamoDB client Check uses.
type DescribeAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// ErrNoTable is returned by Check for a table that does not exist.
var ErrNoTable = errors.New("dynamostore: no such table")

// Check makes sure the table exists with the key the store writes, so that
// a process fails at start, not at its first order. A missing table is
// ErrNoTable.
func Check(ctx context.Context, client DescribeAPI, name string) error {
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: %s", ErrNoTable, name)
	}
	if err != nil {
		return fmt.Errorf("dynamostore: describe table %s: %w", name, err)
	}
	ks := out.Table.KeySchema
	if len(ks) != 1 || aws.ToString(ks[0].AttributeName) != KeyAttribute || ks[0].KeyType != types.KeyTypeHash {
		return fmt.Errorf("dynamostore: table %s: key schema %v, want the partition key %s alone", name, keyNames(ks), KeyAttribute)
	}
	return nil
}

func keyNames(ks []types.KeySchemaElement) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = fmt.Sprintf("%s (%s)", aws.ToString(k.AttributeName), k.KeyType)
	}
	return out
}
