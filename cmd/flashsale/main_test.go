package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOutput string // in stdout or stderr
	}{
		{"no args", nil, 2, "Usage: flashsale <command>"},
		{"help", []string{"--help"}, 0, "serve"},
		{"unknown command", []string{"bogus"}, 2, `unknown command "bogus"`},
		{"serve help", []string{"serve", "--help"}, 0, "--drain-timeout"},
		{"help serve", []string{"help", "serve"}, 0, "Usage: flashsale serve"},
		{"help worker", []string{"help", "worker"}, 0, "--queue-url"},
		{"help unknown", []string{"help", "bogus"}, 2, `unknown command "bogus"`},
		{"serve unknown flag", []string{"serve", "--nope"}, 2, "flag provided but not defined"},
		{"serve stray argument", []string{"serve", "extra"}, 2, `unexpected argument "extra"`},
		{"serve bad log format", []string{"serve", "--log-format", "xml"}, 2, "--log-format"},
		{"serve bad decline rate", []string{"serve", "--decline-rate", "1.5"}, 2, "--decline-rate"},
		{"serve bad delay", []string{"serve", "--payment-delay", "0s"}, 2, "--payment-delay"},
		{"serve bad workers", []string{"serve", "--workers", "0", "--addr", "127.0.0.1:0"}, 2, "--workers 0: must be at least 1"},
		{"serve bad queue capacity", []string{"serve", "--queue-capacity", "-1", "--addr", "127.0.0.1:0"}, 2, "--queue-capacity"},
		{"serve empty data dir", []string{"serve", "--data-dir", "", "--addr", "127.0.0.1:0"}, 2, "--data-dir is empty"},
		{"serve bad sync concurrency", []string{"serve", "--sync-concurrency", "0", "--addr", "127.0.0.1:0"}, 2, "--sync-concurrency"},
		{"serve bad publish timeout", []string{"serve", "--topic-arn", "arn:aws:sns:us-east-1:123456789012:t", "--publish-timeout", "0s"}, 2, "--publish-timeout 0s: must be positive"},
		{"serve bad drain timeout", []string{"serve", "--drain-timeout", "-1s", "--addr", "127.0.0.1:0"}, 2, "--drain-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if out := stdout.String() + stderr.String(); !strings.Contains(out, tt.wantOutput) {
				t.Errorf("output does not mention %q:\n%s", tt.wantOutput, out)
			}
		})
	}
}

// TestServeHelpExplainsEveryFlag: each flag of serve has a description.
func TestServeHelpExplainsEveryFlag(t *testing.T) {
	var stdout bytes.Buffer
	run(context.Background(), []string{"serve", "--help"}, &stdout, &stdout)
	for _, flag := range []string{"addr", "workers", "queue-capacity", "payment-delay", "decline-rate", "seed",
		"sync-concurrency", "request-timeout", "drain-timeout", "data-dir", "min-sync-interval", "in-memory", "spill-file", "log-format", "log-level"} {
		if !strings.Contains(stdout.String(), "-"+flag+" ") {
			t.Errorf("serve --help does not explain --%s", flag)
		}
	}
}

// TestAlias: an old flag name sets the new one and is not in the help.
func TestAlias(t *testing.T) {
	var help bytes.Buffer
	fs := newFlagSet("load", "[flags]", "test", &help)
	var endpoint string
	fs.StringVar(&endpoint, "endpoint-url", "", "AWS endpoint")
	alias(fs, "aws-endpoint", "endpoint-url")
	if err := parseFlags(fs, []string{"--aws-endpoint", "http://127.0.0.1:5000"}); err != nil || endpoint != "http://127.0.0.1:5000" {
		t.Fatalf("--aws-endpoint: err %v, endpoint-url %q; want it set", err, endpoint)
	}
	fs.Usage()
	if !strings.Contains(help.String(), "-endpoint-url") || strings.Contains(help.String(), "aws-endpoint") {
		t.Errorf("help lists the new name only, got:\n%s", help.String())
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"load", "--help"}, &stdout, &stdout)
	if strings.Contains(stdout.String(), "aws-endpoint") || !strings.Contains(stdout.String(), "-endpoint-url") {
		t.Errorf("flashsale load --help:\n%s\nwant --endpoint-url and not --aws-endpoint", stdout.String())
	}
}
