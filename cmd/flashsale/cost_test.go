package main

import (
	"encoding/json"
	"strings"
	"testing"

	"flashsale/internal/cost"
)

// TestCostStudy runs the two volumes of the study: 10,000 orders a month
// inside the Lambda free tier, 300,000 past it, with every line item.
func TestCostStudy(t *testing.T) {
	tests := []struct {
		orders string
		want   []string
	}{{
		orders: "10000",
		want: []string{
			"10,000 orders/month are inside the Lambda free tier, which covers up to 266,667 orders/month at 512 MB x 3s.",
			"Lambda arm64 $0.01, Lambda x86_64 $0.01, worker service $18.03 a month: Lambda saves $18.02 a month.",
		},
	}, {
		orders: "300000",
		want: []string{
			"300,000 orders/month are past the Lambda free tier, which covers up to 266,667 orders/month at 512 MB x 3s: 50,000 of 450,000 GB-seconds are billed.",
			"Lambda arm64 $0.97, Lambda x86_64 $1.13, worker service $18.32 a month: Lambda saves $17.35 a month.",
		},
	}}
	items := []string{"HTTP API requests (common)", "SNS publishes (common)", "Lambda requests", "Lambda compute", "SQS requests", "Fargate vCPU", "Fargate memory", "Total", "Break-even, Lambda arm64: 1,176,767 orders/month"}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, "cost", "--orders", tt.orders)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range append(tt.want, items...) {
			if !strings.Contains(stdout, want) {
				t.Errorf("--orders %s: output lacks %q:\n%s", tt.orders, want, stdout)
			}
		}
	}
}

func TestCostJSONAndFlags(t *testing.T) {
	code, stdout, stderr := runCmd(t, "cost", "--orders", "300000", "--json", "--task-arch", "arm64", "--task-memory", "2", "--free-tier=false")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var e cost.Estimate
	if err := json.Unmarshal([]byte(stdout), &e); err != nil {
		t.Fatal(err)
	}
	svc := e.Design(cost.DesignService)
	if e.Params.Orders != 300_000 || e.InsideFreeTier || e.Params.FreeTierOn || svc == nil {
		t.Fatalf("estimate %+v", e)
	}
	// 0.5 vCPU and 2 GB on arm64, 730 h: $17.02; SQS without free tier:
	// (300,000 + 2 x 30,000 + 131,400) x $0.40/M.
	fargate := 0.5*0.03238*730 + 2*0.00356*730
	sqs := (300_000 + 60_000 + 131_400) * 0.40 / 1e6
	if d := svc.Own - (fargate + sqs); d > 1e-9 || d < -1e-9 {
		t.Errorf("service %v, want %v", svc.Own, fargate+sqs)
	}
}

func TestCostUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no orders", nil, 2, "--orders N is required"},
		{"negative orders", []string{"--orders", "-5"}, 2, "--orders N is required"},
		{"bad memory", []string{"--orders", "1", "--memory", "64"}, 2, "Lambda memory 64 MB"},
		{"bad arch", []string{"--orders", "1", "--task-arch", "sparc"}, 2, "task architecture"},
		{"stray argument", []string{"--orders", "1", "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"cost"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}

// TestCostHelp: every price flag is in the help with its region and date,
// and the help explains the study's ~$17.
func TestCostHelp(t *testing.T) {
	code, stdout, _ := runCmd(t, "cost", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{"price-lambda-requests", "price-lambda-gbs-arm64", "price-lambda-gbs-x86_64", "price-sns", "price-sqs",
		"price-http-api", "price-fargate-vcpu-x86_64", "price-fargate-gb-x86_64", "price-fargate-vcpu-arm64", "price-fargate-gb-arm64", "price-ipv4"} {
		i := strings.Index(stdout, "-"+name+" ")
		if i < 0 {
			t.Errorf("help lacks --%s", name)
			continue
		}
		line := stdout[i:]
		line = line[:strings.Index(line, "(default")]
		if !strings.Contains(line, "us-east-1") || !strings.Contains(line, cost.PriceDate) {
			t.Errorf("--%s help %q lacks region and date", name, line)
		}
	}
	for _, want := range []string{"$18.02", "$17.02", "$17.77", "us-east-1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
