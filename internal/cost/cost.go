// Package cost estimates the monthly AWS bill of processing a volume of
// orders in each design: the processor Lambda (arm64 and x86_64) against the
// always-on worker service on Fargate, each with the parts in front of it
// (HTTP API requests, SNS publishes) and, for the service, the SQS queue it
// drains. Every price and free-tier allowance is a parameter whose default
// is the public on-demand price in PriceRegion as of PriceDate.
//
// The study this reproduces: the worker service costs about $17 a month
// whatever the volume, while the Lambda free tier (1M requests and 400,000
// GB-seconds a month) covers up to 266,667 orders a month at 512 MB x 3 s.
package cost

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// PriceRegion and PriceDate say where and when the default prices were
// published: on-demand list prices, USD.
const (
	PriceRegion = "us-east-1"
	PriceDate   = "2026-11-25"
)

// PriceSource is PriceRegion and PriceDate as help texts cite them.
const PriceSource = PriceRegion + " on-demand, " + PriceDate

// HoursPerMonth is the month AWS's pricing calculator uses (8,760 / 12).
const HoursPerMonth = 730

// Architectures of Lambda functions and Fargate tasks.
const (
	ARM64  = "arm64"
	X86_64 = "x86_64"
)

// Prices are unit prices in USD.
type Prices struct {
	// LambdaRequestsPerMillion is the price of 1M Lambda requests.
	LambdaRequestsPerMillion float64 `json:"lambda_requests_per_million"`
	// LambdaGBSecondARM64 and LambdaGBSecondX86 are the price of one
	// GB-second of Lambda compute on each architecture (first pricing tier).
	LambdaGBSecondARM64 float64 `json:"lambda_gb_second_arm64"`
	LambdaGBSecondX86   float64 `json:"lambda_gb_second_x86_64"` // see LambdaGBSecondARM64
	// SNSPublishesPerMillion is the price of 1M SNS publishes (standard
	// topics; deliveries to SQS and Lambda are free).
	SNSPublishesPerMillion float64 `json:"sns_publishes_per_million"`
	// SQSRequestsPerMillion is the price of 1M SQS requests (standard
	// queues; a batch of up to 10 messages is one request).
	SQSRequestsPerMillion float64 `json:"sqs_requests_per_million"`
	// HTTPAPIRequestsPerMillion is the price of 1M API Gateway HTTP API
	// requests (first 300M).
	HTTPAPIRequestsPerMillion float64 `json:"http_api_requests_per_million"`
	// Fargate prices per vCPU-hour and per GB-hour, Linux, per architecture.
	FargateVCPUHourX86   float64 `json:"fargate_vcpu_hour_x86_64"`
	FargateGBHourX86     float64 `json:"fargate_gb_hour_x86_64"`  // see FargateVCPUHourX86
	FargateVCPUHourARM64 float64 `json:"fargate_vcpu_hour_arm64"` // see FargateVCPUHourX86
	FargateGBHourARM64   float64 `json:"fargate_gb_hour_arm64"`   // see FargateVCPUHourX86
	// PublicIPv4Hour is the price of a public IPv4 address for an hour.
	PublicIPv4Hour float64 `json:"public_ipv4_hour"`
}

// DefaultPrices are the public on-demand prices in PriceRegion as of
// PriceDate.
func DefaultPrices() Prices {
	return Prices{
		LambdaRequestsPerMillion:  0.20,
		LambdaGBSecondARM64:       0.0000133334,
		LambdaGBSecondX86:         0.0000166667,
		SNSPublishesPerMillion:    0.50,
		SQSRequestsPerMillion:     0.40,
		HTTPAPIRequestsPerMillion: 1.00,
		FargateVCPUHourX86:        0.04048,
		FargateGBHourX86:          0.004445,
		FargateVCPUHourARM64:      0.03238,
		FargateGBHourARM64:        0.00356,
		PublicIPv4Hour:            0.005,
	}
}

// FreeTier are the monthly allowances of AWS's always-free tier, shared by
// every function, topic and queue of the account. (API Gateway's free tier
// is for new accounts' first 12 months only and is not counted.)
type FreeTier struct {
	LambdaRequests  float64 `json:"lambda_requests"`   // Lambda requests a month
	LambdaGBSeconds float64 `json:"lambda_gb_seconds"` // Lambda GB-seconds a month
	SNSPublishes    float64 `json:"sns_publishes"`     // SNS publishes a month
	SQSRequests     float64 `json:"sqs_requests"`      // SQS requests a month
}

// DefaultFreeTier is AWS's always-free tier.
func DefaultFreeTier() FreeTier {
	return FreeTier{LambdaRequests: 1_000_000, LambdaGBSeconds: 400_000, SNSPublishes: 1_000_000, SQSRequests: 1_000_000}
}

// Params describe the workload and both designs.
type Params struct {
	// Orders is the volume, in orders a month.
	Orders float64 `json:"orders"`

	// MemoryMB and Duration size the processor Lambda: one invocation per
	// order (SNS delivers one message per invocation).
	MemoryMB int           `json:"memory_mb"`
	Duration time.Duration `json:"duration"` // see MemoryMB
	// FreeTierOn applies the always-free tier (Lambda, SNS, SQS).
	FreeTierOn bool `json:"free_tier"`

	// The worker service: Tasks Fargate tasks of TaskVCPU vCPU and
	// TaskMemoryGB GB on TaskArch, running Hours a month, each with a
	// public IPv4 address when PublicIP.
	TaskVCPU     float64 `json:"task_vcpu"`
	TaskMemoryGB float64 `json:"task_memory_gb"` // see TaskVCPU
	Tasks        int     `json:"tasks"`          // see TaskVCPU
	TaskArch     string  `json:"task_arch"`      // see TaskVCPU
	Hours        float64 `json:"hours"`          // see TaskVCPU
	PublicIP     bool    `json:"public_ip"`      // see TaskVCPU

	// The service's SQS traffic: one send per order (SNS's delivery), and
	// receives and deletes in batches of SQSBatch; each of Pollers long
	// polls (PollWait) also makes one empty receive per PollWait while idle.
	SQSBatch int           `json:"sqs_batch"`
	Pollers  int           `json:"sqs_pollers"`   // see SQSBatch
	PollWait time.Duration `json:"sqs_poll_wait"` // see SQSBatch

	Prices Prices   `json:"prices"`              // unit prices
	Free   FreeTier `json:"free_tier_allowance"` // free-tier allowances, applied when FreeTierOn
}

// Defaults are the study's workload (512 MB x 3 s per order) and a worker
// service of one 0.5 vCPU, 1 GB Linux/x86_64 task, at DefaultPrices.
func Defaults() Params {
	return Params{
		MemoryMB: 512, Duration: 3 * time.Second, FreeTierOn: true,
		TaskVCPU: 0.5, TaskMemoryGB: 1, Tasks: 1, TaskArch: X86_64, Hours: HoursPerMonth,
		SQSBatch: 10, Pollers: 1, PollWait: 20 * time.Second,
		Prices: DefaultPrices(), Free: DefaultFreeTier(),
	}
}

// Validate reports the first parameter out of range.
func (p Params) Validate() error {
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	check(finite(p.Orders) && p.Orders >= 0, "orders %v: must be 0 or more", p.Orders)
	check(p.MemoryMB >= 128 && p.MemoryMB <= 10240, "Lambda memory %d MB: must be 128 to 10240", p.MemoryMB)
	check(p.Duration > 0 && p.Duration <= 15*time.Minute, "Lambda duration %v: must be more than 0 and at most 15m", p.Duration)
	check(finite(p.TaskVCPU) && p.TaskVCPU > 0, "task vCPU %v: must be more than 0", p.TaskVCPU)
	check(finite(p.TaskMemoryGB) && p.TaskMemoryGB > 0, "task memory %v GB: must be more than 0", p.TaskMemoryGB)
	check(p.Tasks >= 1, "tasks %d: must be at least 1", p.Tasks)
	check(p.TaskArch == ARM64 || p.TaskArch == X86_64, "task architecture %q: must be %s or %s", p.TaskArch, ARM64, X86_64)
	check(finite(p.Hours) && p.Hours > 0 && p.Hours <= 744, "hours %v: must be more than 0 and at most 744", p.Hours)
	check(p.SQSBatch >= 1 && p.SQSBatch <= 10, "SQS batch %d: must be 1 to 10", p.SQSBatch)
	check(p.Pollers >= 0, "SQS pollers %d: must be 0 or more", p.Pollers)
	check(p.PollWait > 0 && p.PollWait <= 20*time.Second, "SQS poll wait %v: must be more than 0 and at most 20s", p.PollWait)
	for name, v := range map[string]float64{
		"Lambda request price": p.Prices.LambdaRequestsPerMillion, "Lambda arm64 GB-second price": p.Prices.LambdaGBSecondARM64,
		"Lambda x86_64 GB-second price": p.Prices.LambdaGBSecondX86, "SNS price": p.Prices.SNSPublishesPerMillion,
		"SQS price": p.Prices.SQSRequestsPerMillion, "HTTP API price": p.Prices.HTTPAPIRequestsPerMillion,
		"Fargate x86_64 vCPU price": p.Prices.FargateVCPUHourX86, "Fargate x86_64 GB price": p.Prices.FargateGBHourX86,
		"Fargate arm64 vCPU price": p.Prices.FargateVCPUHourARM64, "Fargate arm64 GB price": p.Prices.FargateGBHourARM64,
		"public IPv4 price": p.Prices.PublicIPv4Hour, "free Lambda requests": p.Free.LambdaRequests,
		"free Lambda GB-seconds": p.Free.LambdaGBSeconds, "free SNS publishes": p.Free.SNSPublishes, "free SQS requests": p.Free.SQSRequests,
	} {
		check(finite(v) && v >= 0, "%s %v: must be 0 or more", name, v)
	}
	return errors.Join(errs...)
}

// FargateSizeValid reports whether Fargate offers a task of vcpu vCPU and gb
// GB of memory.
func FargateSizeValid(vcpu, gb float64) bool {
	sizes := []struct{ vcpu, min, max, step float64 }{
		{0.25, 0.5, 2, 0.5}, {0.5, 1, 4, 1}, {1, 2, 8, 1}, {2, 4, 16, 1}, {4, 8, 30, 1}, {8, 16, 60, 4}, {16, 32, 120, 8},
	}
	for _, s := range sizes {
		if vcpu == s.vcpu && gb >= s.min && gb <= s.max {
			if gb == s.max || gb == s.min {
				return true
			}
			steps := (gb - s.min) / s.step
			return steps == math.Trunc(steps)
		}
	}
	return false
}

// GBSecondsPerOrder is the Lambda compute of one order: memory in GB (MB /
// 1024) times duration in seconds.
func (p Params) GBSecondsPerOrder() float64 {
	return float64(p.MemoryMB) / 1024 * p.Duration.Seconds()
}

// FreeTierOrders is how many orders a month the Lambda free tier covers:
// the fewer of its requests and its GB-seconds allow. It is 0 with the free
// tier off.
func (p Params) FreeTierOrders() float64 {
	if !p.FreeTierOn {
		return 0
	}
	return math.Min(p.Free.LambdaRequests, p.Free.LambdaGBSeconds/p.GBSecondsPerOrder())
}
