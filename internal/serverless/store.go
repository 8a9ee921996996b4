package serverless

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/orderstore/memstore"
)

// EnvOrdersTable names the DynamoDB orders table (set by template.yaml).
const EnvOrdersTable = "ORDERS_TABLE"

// OrderStore is the order store of a function: the DynamoDB table named by
// ORDERS_TABLE (AWS_ENDPOINT_URL_DYNAMODB points it at a local emulator),
// or, when the variable is unset, an in-memory store of this execution
// environment, which catches duplicates reaching it only (logged as a
// warning). It makes no request: a missing table or permission shows at
// the first order, in that order's error.
func OrderStore(getenv func(string) string, cfg aws.Config, log *slog.Logger) (orderstore.Store, error) {
	table := getenv(EnvOrdersTable)
	if table == "" {
		log.Warn(EnvOrdersTable + " is not set: orders are recorded in this execution environment only; duplicates reaching another are not caught")
		return memstore.New(memstore.Config{})
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = Endpoint(getenv, "DynamoDB") })
	return dynamostore.New(client, dynamostore.Config{Table: table})
}
