package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/orderstore/storetest"
	"flashsale/internal/testutil/moto"
)

// TestContract runs the store contract against DynamoDB on a moto_server,
// one fresh table per test. moto applies concurrent conditional writes to
// one item without a lock (two of 16 concurrent claims both won in a CI
// run), where DynamoDB serialises them: the competing claims are sent one
// after another here, which checks the conditions; their atomicity is
// DynamoDB's.
func TestContract(t *testing.T) {
	srv := moto.Start(t)
	client := dynamodb.NewFromConfig(srv.Config(t))
	n := 0
	storetest.Run(t, func(t *testing.T, retention time.Duration) orderstore.Store {
		n++
		table := fmt.Sprintf("orders-%d", n)
		if err := dynamostore.CreateTable(context.Background(), client, table); err != nil {
			t.Fatal(err)
		}
		s, err := dynamostore.New(client, dynamostore.Config{Table: table, Retention: retention})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{SerialClaims: true, ExpiryGranularity: time.Second})
}

// TestCreateTable: the table has the key and TTL the store relies on, and a
// second creation says the table exists.
func TestCreateTable(t *testing.T) {
	srv := moto.Start(t)
	client := dynamodb.NewFromConfig(srv.Config(t))
	ctx := context.Background()
	if err := dynamostore.CreateTable(ctx, client, "orders"); err != nil {
		t.Fatal(err)
	}
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if ks := out.Table.KeySchema; len(ks) != 1 || aws.ToString(ks[0].AttributeName) != dynamostore.KeyAttribute {
		t.Errorf("key schema %+v, want %s alone", ks, dynamostore.KeyAttribute)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != dynamostore.TTLAttribute {
		t.Errorf("TTL %+v, want on %s", d, dynamostore.TTLAttribute)
	}
	if err := dynamostore.CreateTable(ctx, client, "orders"); !errors.Is(err, dynamostore.ErrTableExists) {
		t.Errorf("second create = %v, want ErrTableExists", err)
	}
	if err := dynamostore.Check(ctx, client, "orders"); err != nil {
		t.Errorf("check of the created table: %v", err)
	}
	if err := dynamostore.Check(ctx, client, "missing"); !errors.Is(err, dynamostore.ErrNoTable) {
		t.Errorf("check of a missing table = %v, want ErrNoTable", err)
	}
	// A table keyed otherwise is refused: the store's writes would fail.
	_, err = client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("other"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.Check(ctx, client, "other"); err == nil {
		t.Error("check of a table keyed on id: no error")
	}
}

// TestExpiryRoundsUp: expires_at holds whole seconds, rounded up, so a
// record written late in a second is kept the whole retention. Rounded
// down, an order claimed at 12:00:00.950 with 1 s of retention was gone
// for its Finish at 12:00:01.000 (a CI failure of the contract test).
func TestExpiryRoundsUp(t *testing.T) {
	srv := moto.Start(t)
	client := dynamodb.NewFromConfig(srv.Config(t))
	ctx := context.Background()
	if err := dynamostore.CreateTable(ctx, client, "orders"); err != nil {
		t.Fatal(err)
	}
	const retention = time.Second
	base := time.Now().Truncate(time.Second).Add(-time.Hour)
	for _, tc := range []struct {
		name      string
		written   time.Duration // after base
		wantUntil time.Duration // expires_at, after base
	}{
		{"late in a second", 950 * time.Millisecond, 2 * time.Second},
		{"early in a second", time.Millisecond, 2 * time.Second},
		{"on a whole second", 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := base.Add(tc.written)
			s, err := dynamostore.New(client, dynamostore.Config{Table: "orders", Retention: retention,
				Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			o := storetest.NewOrder(t, 7)
			r, err := s.Claim(ctx, o, "w1", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if want := base.Add(tc.wantUntil); !r.ExpiresAt.Equal(want) {
				t.Errorf("expires at %v, want %v", r.ExpiresAt, want)
			}
			lastMoment := base.Add(tc.written + retention - time.Millisecond)
			now = lastMoment
			if _, err := s.Get(ctx, o.ID); err != nil {
				t.Errorf("get within the retention: %v", err)
			}
			now = base.Add(tc.wantUntil)
			if _, err := s.Get(ctx, o.ID); !errors.Is(err, orderstore.ErrNotFound) {
				t.Errorf("get at expires_at = %v, want ErrNotFound", err)
			}
			now = lastMoment
			if _, err := s.Finish(ctx, o.ID, "w1", order.StatusCompleted, ""); err != nil {
				t.Errorf("finish within the retention: %v", err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	for name, tc := range map[string]struct {
		api dynamostore.API
		cfg dynamostore.Config
	}{
		"no client":          {nil, dynamostore.Config{Table: "t"}},
		"no table":           {client, dynamostore.Config{}},
		"negative retention": {client, dynamostore.Config{Table: "t", Retention: -time.Second}},
	} {
		if _, err := dynamostore.New(tc.api, tc.cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
