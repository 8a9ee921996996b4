package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// loadAWSConfig loads the SDK's default configuration (environment, shared
// files, instance or task role), pointed at endpointURL when it is set (a
// local emulator such as moto_server; the SDK's own AWS_ENDPOINT_URL works
// too).
func loadAWSConfig(ctx context.Context, endpointURL string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if endpointURL != "" {
		opts = append(opts, config.WithBaseEndpoint(endpointURL))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set AWS_REGION (or a region in ~/.aws/config)")
	}
	return cfg, nil
}

// endpointOf describes where cfg sends requests, for error messages.
func endpointOf(cfg aws.Config) string {
	if cfg.BaseEndpoint != nil {
		return *cfg.BaseEndpoint
	}
	return "AWS " + cfg.Region
}
