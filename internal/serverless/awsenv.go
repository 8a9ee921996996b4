package serverless

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWSConfig is the SDK configuration of a function, read from the variables
// Lambda sets in every execution environment: AWS_REGION, and the
// function's role credentials AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, which last as long as the environment. It stands in
// for config.LoadDefaultConfig, whose shared files, SSO, STS and IMDS
// providers a function never runs and would carry in its binary (and its
// init). Endpoint gives a service's endpoint override.
func AWSConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	cfg := aws.Config{Region: region}
	if key := getenv("AWS_ACCESS_KEY_ID"); key != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))
	}
	return cfg, nil
}

// Endpoint is the endpoint override of a service (its SDK ID, such as
// "SNS" or "DynamoDB"), as the SDK reads it: AWS_ENDPOINT_URL_<SERVICE>,
// then AWS_ENDPOINT_URL; nil for the service's AWS endpoint. Local
// emulators (moto_server, sam local) are reached this way.
func Endpoint(getenv func(string) string, service string) *string {
	key := "AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(service, " ", "_"))
	for _, name := range []string{key, "AWS_ENDPOINT_URL"} {
		if v := getenv(name); v != "" {
			return aws.String(v)
		}
	}
	return nil
}
