package serverless_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"flashsale/internal/serverless"
)

func TestAWSConfigFromTheLambdaEnvironment(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantRegion string
		wantKey    string
		wantErr    bool
	}{
		{"as Lambda sets it", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
			"AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}, "eu-west-1", "AKIDEXAMPLE", false},
		{"default region", map[string]string{"AWS_DEFAULT_REGION": "us-east-2"}, "us-east-2", "", false},
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := serverless.AWSConfig(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if cfg.Region != tt.wantRegion {
				t.Errorf("region %q, want %q", cfg.Region, tt.wantRegion)
			}
			if tt.wantKey == "" {
				if cfg.Credentials != nil {
					t.Error("credentials without AWS_ACCESS_KEY_ID")
				}
				return
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != tt.wantKey || creds.SessionToken != tt.env["AWS_SESSION_TOKEN"] {
				t.Errorf("credentials %+v, %v", creds, err)
			}
		})
	}
}

func TestEndpointOverride(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		service string
		want    string // "" for none
	}{
		{"service-specific wins", map[string]string{"AWS_ENDPOINT_URL": "http://all", "AWS_ENDPOINT_URL_SNS": "http://sns"}, "SNS", "http://sns"},
		{"global", map[string]string{"AWS_ENDPOINT_URL": "http://all"}, "DynamoDB", "http://all"},
		{"service name upper-cased", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://ddb"}, "DynamoDB", "http://ddb"},
		{"empty is unset", map[string]string{"AWS_ENDPOINT_URL_SNS": "", "AWS_ENDPOINT_URL": ""}, "SNS", ""},
		{"other service's", map[string]string{"AWS_ENDPOINT_URL_SNS": "http://sns"}, "DynamoDB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serverless.Endpoint(func(k string) string { return tt.env[k] }, tt.service)
			if aws.ToString(got) != tt.want || (tt.want == "" && got != nil) {
				t.Errorf("Endpoint = %v, want %q", aws.ToString(got), tt.want)
			}
		})
	}
}
