package dynamostore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"flashsale/internal/orderstore/dynamostore"
)

// lostAnswer is a DynamoDB whose CreateTable creates the table (when
// created is set) and then fails the way a dropped connection does.
type lostAnswer struct {
	created  bool
	attempts int
}

var errReset = errors.New("read: connection reset by peer")

func (l *lostAnswer) CreateTable(_ context.Context, _ *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	var o dynamodb.Options
	for _, f := range optFns {
		f(&o)
	}
	if o.RetryMaxAttempts != 1 {
		return nil, errors.New("CreateTable must make one attempt")
	}
	l.attempts++
	return nil, errReset
}

func (l *lostAnswer) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if !l.created {
		return nil, &types.ResourceNotFoundException{}
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{TableStatus: types.TableStatusActive}}, nil
}

func (l *lostAnswer) UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

func TestCreateTableWithALostAnswer(t *testing.T) {
	ctx := context.Background()
	// The table was created, the answer lost: created, not "exists".
	l := &lostAnswer{created: true}
	if err := dynamostore.CreateTable(ctx, l, "orders"); err != nil || l.attempts != 1 {
		t.Errorf("create with a lost answer = %v after %d attempts, want success after 1", err, l.attempts)
	}
	// Nothing was created: the failure is reported.
	l = &lostAnswer{}
	if err := dynamostore.CreateTable(ctx, l, "orders"); !errors.Is(err, errReset) || errors.Is(err, dynamostore.ErrTableExists) {
		t.Errorf("create that failed = %v, want the connection error", err)
	}
}
