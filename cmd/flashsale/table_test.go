package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"flashsale/internal/testutil/moto"
)

// TestTableCreate: flashsale table create makes the orders table on moto
// with the store's key and TTL, and a second run says it exists and fails.
func TestTableCreate(t *testing.T) {
	srv := moto.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if k != "AWS_ENDPOINT_URL" {
			t.Setenv(k, v)
		}
	}
	args := []string{"table", "create", "--orders-table", "flashsale-orders", "--endpoint-url", srv.Endpoint}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "created table flashsale-orders") {
		t.Errorf("output %q", stdout.String())
	}
	client := dynamodb.NewFromConfig(srv.Config(t))
	ttl, err := client.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("flashsale-orders")})
	if err != nil || ttl.TimeToLiveDescription == nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expires_at" {
		t.Errorf("TTL of the created table: %+v, %v", ttl, err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "already exists") {
		t.Errorf("second create: exit %d, %q; want 1 and a message that the table exists", code, stderr.String())
	}
}

func TestTableUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"table"}, 2, "missing subcommand"},
		{[]string{"table", "drop"}, 2, `unknown subcommand "drop"`},
		{[]string{"table", "create"}, 2, "--orders-table is required"},
		{[]string{"table", "create", "--help"}, 0, "-orders-table string"},
		{[]string{"help", "table"}, 0, "table create --orders-table NAME"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tt.args, code, stdout.String()+stderr.String(), tt.code, tt.want)
		}
	}
}
