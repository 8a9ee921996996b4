// Command hello is the smallest Go Lambda: the baseline that the functions'
// bootstrap sizes and cold starts are compared with.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, event json.RawMessage) (string, error) {
		return "hello", nil
	})
}
