// Package dynamostore is the orderstore.Store on Amazon DynamoDB, shared by
// every process on AWS (the API and processor Lambdas, the worker service)
// and by `serve --topic-arn` with `worker` locally.
//
// One item per order, keyed by order_id. Every change is one conditional
// write (PutItem for Create, UpdateItem for Claim and Finish) that asks for
// the old item when its condition fails (ReturnValuesOnConditionCheckFailure
// ALL_OLD), so that the caller learns why without a second read. Expiry is
// DynamoDB's TTL on expires_at (epoch seconds), which deletes items late
// (within days): every read and condition also treats an item past its
// expires_at as absent. expires_at is rounded up to the next whole second,
// so that a record is kept at least the retention (rounded down, a record
// written at 12:00:00.95 with 1 s of retention would have been gone at
// 12:00:01.00). Lease and expiry times come from the writer's clock.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
)

// Attribute names of an order's item. KeyAttribute is the table's
// partition key, TTLAttribute its time-to-live attribute.
const (
	KeyAttribute = "order_id"
	TTLAttribute = "expires_at"
)

// DefaultRetention is how long a record is kept after its last change.
const DefaultRetention = 7 * 24 * time.Hour

// API is the part of the DynamoDB client the store uses; *dynamodb.Client
// implements it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Config configures a Store.
type Config struct {
	// Table is the table's name; required.
	Table string
	// Retention is how long a record is kept after its last change;
	// DefaultRetention when zero.
	Retention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Store is a DynamoDB orderstore.Store, safe for concurrent use.
type Store struct {
	client API
	cfg    Config
}

var _ orderstore.Store = (*Store)(nil)

// New returns a store of the table (it does not check that it exists: see
// CreateTable and Check).
func New(client API, cfg Config) (*Store, error) {
	switch {
	case client == nil:
		return nil, errors.New("dynamostore: a DynamoDB client is required")
	case cfg.Table == "":
		return nil, errors.New("dynamostore: a table name is required")
	case cfg.Retention < 0:
		return nil, fmt.Errorf("dynamostore: retention %v: must not be negative", cfg.Retention)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{client: client, cfg: cfg}, nil
}

// item is an order's item in the table. Times are epoch milliseconds (so
// that conditions compare numbers), but expires_at, in epoch seconds as
// DynamoDB's TTL wants.
type item struct {
	OrderID     string       `dynamodbav:"order_id"`
	CustomerID  int64        `dynamodbav:"customer_id"`
	Items       []order.Item `dynamodbav:"items"`
	Status      string       `dynamodbav:"status"`
	CreatedAt   string       `dynamodbav:"created_at"`
	PayloadHash string       `dynamodbav:"payload_hash"`
	UpdatedAt   int64        `dynamodbav:"updated_at"`
	PaidAt      int64        `dynamodbav:"paid_at,omitempty"`
	Attempts    int          `dynamodbav:"attempts"`
	Holder      string       `dynamodbav:"holder,omitempty"`
	LeaseUntil  int64        `dynamodbav:"lease_until,omitempty"`
	Reason      string       `dynamodbav:"reason,omitempty"`
	ExpiresAt   int64        `dynamodbav:"expires_at"`
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// expiry is the expires_at of an item written at now: now plus the
// retention, in epoch seconds rounded up.
func (s *Store) expiry(now time.Time) int64 {
	at := now.Add(s.cfg.Retention)
	if at.Nanosecond() > 0 {
		return at.Unix() + 1
	}
	return at.Unix()
}

func fromMS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func (it item) record() (orderstore.Record, error) {
	created, err := time.Parse(time.RFC3339Nano, it.CreatedAt)
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: order %s: created_at %q: %w", it.OrderID, it.CreatedAt, err)
	}
	return orderstore.Record{
		Order: order.Order{ID: it.OrderID, CustomerID: it.CustomerID, Items: it.Items,
			Status: order.Status(it.Status), CreatedAt: created},
		PayloadHash: it.PayloadHash,
		UpdatedAt:   fromMS(it.UpdatedAt),
		PaidAt:      fromMS(it.PaidAt),
		Attempts:    it.Attempts,
		Holder:      it.Holder,
		LeaseUntil:  fromMS(it.LeaseUntil),
		Reason:      it.Reason,
		ExpiresAt:   time.Unix(it.ExpiresAt, 0).UTC(),
	}, nil
}

// decode reads an item; ok is false for none, or one past its expiry.
func (s *Store) decode(av map[string]types.AttributeValue, now time.Time) (orderstore.Record, bool, error) {
	if len(av) == 0 {
		return orderstore.Record{}, false, nil
	}
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return orderstore.Record{}, false, fmt.Errorf("dynamostore: decode: %w", err)
	}
	if it.ExpiresAt <= now.Unix() {
		return orderstore.Record{}, false, nil
	}
	r, err := it.record()
	return r, err == nil, err
}

func (s *Store) key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: id}}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// failedItem is the old item of a write whose condition failed, or nil for
// another error.
func failedItem(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// Create implements orderstore.Store.
func (s *Store) Create(ctx context.Context, o order.Order) (orderstore.Record, error) {
	now := s.cfg.Now()
	it := item{
		OrderID: o.ID, CustomerID: o.CustomerID, Items: o.Items, Status: string(order.StatusPending),
		CreatedAt: o.CreatedAt.UTC().Format(time.RFC3339Nano), PayloadHash: orderstore.PayloadHash(o),
		UpdatedAt: ms(now), ExpiresAt: s.expiry(now),
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: encode %s: %w", o.ID, err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.cfg.Table),
		Item:      av,
		ConditionExpression: aws.String("attribute_not_exists(order_id) OR expires_at <= :now OR " +
			"(#s = :failed AND reason = :notaccepted)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.Unix()), ":failed": str(string(order.StatusFailed)),
			":notaccepted": str(orderstore.ReasonNotAccepted),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := failedItem(err); failed {
		r, ok, derr := s.decode(old, now)
		switch {
		case derr != nil:
			return orderstore.Record{}, derr
		case !ok: // gone meanwhile: the condition saw it, the caller may retry
			return orderstore.Record{}, fmt.Errorf("dynamostore: create %s: %w", o.ID, orderstore.ErrExists)
		case r.PayloadHash != it.PayloadHash:
			return r, orderstore.ErrConflict
		default:
			return r, orderstore.ErrExists
		}
	}
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: create %s: %w", o.ID, err)
	}
	return it.record()
}

// Get implements orderstore.Store.
func (s *Store) Get(ctx context.Context, id string) (orderstore.Record, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.cfg.Table), Key: s.key(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: get %s: %w", id, err)
	}
	r, ok, err := s.decode(out.Item, s.cfg.Now())
	switch {
	case err != nil:
		return orderstore.Record{}, err
	case !ok:
		return orderstore.Record{}, orderstore.ErrNotFound
	}
	return r, nil
}

// Claim implements orderstore.Store: one UpdateItem that records the order
// when the table does not hold it (or holds it expired), and otherwise
// succeeds only for the same payload, pending or with its lease run out.
func (s *Store) Claim(ctx context.Context, o order.Order, holder string, lease time.Duration) (orderstore.Record, error) {
	if err := orderstore.ValidateClaim(holder, lease); err != nil {
		return orderstore.Record{}, err
	}
	now := s.cfg.Now()
	items, err := attributevalue.Marshal(o.Items)
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: encode %s: %w", o.ID, err)
	}
	hash := orderstore.PayloadHash(o)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.cfg.Table),
		Key:       s.key(o.ID),
		UpdateExpression: aws.String("SET #s = :processing, holder = :holder, lease_until = :lease, " +
			"attempts = if_not_exists(attempts, :zero) + :one, updated_at = :nowms, expires_at = :expires, " +
			"customer_id = :customer, #items = :items, created_at = :created, payload_hash = :hash " +
			"REMOVE paid_at, reason"),
		ConditionExpression: aws.String("attribute_not_exists(order_id) OR expires_at <= :now OR " +
			"(payload_hash = :hash AND (#s = :pending OR (#s = :processing AND lease_until <= :nowms)))"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#items": "items"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":processing": str(string(order.StatusProcessing)), ":pending": str(string(order.StatusPending)),
			":holder": str(holder), ":lease": num(ms(now.Add(lease))), ":zero": num(0), ":one": num(1),
			":nowms": num(ms(now)), ":now": num(now.Unix()), ":expires": num(s.expiry(now)),
			":customer": num(o.CustomerID), ":items": items, ":created": str(o.CreatedAt.UTC().Format(time.RFC3339Nano)),
			":hash": str(hash),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := failedItem(err); failed {
		r, ok, derr := s.decode(old, now)
		switch {
		case derr != nil:
			return orderstore.Record{}, derr
		case !ok:
			return orderstore.Record{}, fmt.Errorf("dynamostore: claim %s: the item changed meanwhile: %w", o.ID, orderstore.ErrClaimed)
		case r.PayloadHash != hash:
			return r, orderstore.ErrConflict
		case r.Finished():
			return r, orderstore.ErrFinished
		default:
			return r, orderstore.ErrClaimed
		}
	}
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: claim %s: %w", o.ID, err)
	}
	r, _, err := s.decode(out.Attributes, now)
	return r, err
}

// Finish implements orderstore.Store: one UpdateItem, only while holder
// holds the claim.
func (s *Store) Finish(ctx context.Context, id, holder string, status order.Status, reason string) (orderstore.Record, error) {
	if err := orderstore.ValidateFinish(holder, status); err != nil {
		return orderstore.Record{}, err
	}
	now := s.cfg.Now()
	update := "SET #s = :final, updated_at = :nowms, expires_at = :expires"
	values := map[string]types.AttributeValue{
		":final": str(string(status)), ":processing": str(string(order.StatusProcessing)), ":holder": str(holder),
		":nowms": num(ms(now)), ":now": num(now.Unix()), ":expires": num(s.expiry(now)),
	}
	if status == order.StatusCompleted {
		update += ", paid_at = :nowms"
	}
	if reason != "" {
		update += ", reason = :reason"
		values[":reason"] = str(reason)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.cfg.Table),
		Key:                                 s.key(id),
		UpdateExpression:                    aws.String(update + " REMOVE lease_until"),
		ConditionExpression:                 aws.String("#s = :processing AND holder = :holder AND expires_at > :now"),
		ExpressionAttributeNames:            map[string]string{"#s": "status"},
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return s.updated(out, err, now, "finish", id, orderstore.ErrNotHolder)
}

// updated is the answer of an UpdateItem on an existing order (Finish,
// Cancel): the new record, or, when the condition failed, the old one with
// ErrNotFound, ErrFinished, or otherwise refused (the order is held by
// another, or not in the state the change needs).
func (s *Store) updated(out *dynamodb.UpdateItemOutput, err error, now time.Time, op, id string, refused error) (orderstore.Record, error) {
	if old, failed := failedItem(err); failed {
		r, ok, derr := s.decode(old, now)
		switch {
		case derr != nil:
			return orderstore.Record{}, derr
		case !ok:
			return orderstore.Record{}, orderstore.ErrNotFound
		case r.Finished():
			return r, orderstore.ErrFinished
		default:
			return r, refused
		}
	}
	if err != nil {
		return orderstore.Record{}, fmt.Errorf("dynamostore: %s %s: %w", op, id, err)
	}
	r, _, err := s.decode(out.Attributes, now)
	return r, err
}

// Cancel implements orderstore.Store: one UpdateItem, only while the order
// is pending.
func (s *Store) Cancel(ctx context.Context, id, reason string) (orderstore.Record, error) {
	now := s.cfg.Now()
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.cfg.Table),
		Key:                      s.key(id),
		UpdateExpression:         aws.String("SET #s = :failed, reason = :reason, updated_at = :nowms, expires_at = :expires"),
		ConditionExpression:      aws.String("#s = :pending AND expires_at > :now"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": str(string(order.StatusFailed)), ":pending": str(string(order.StatusPending)),
			":reason": str(reason), ":nowms": num(ms(now)), ":now": num(now.Unix()),
			":expires": num(s.expiry(now)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return s.updated(out, err, now, "cancel", id, orderstore.ErrClaimed)
}
