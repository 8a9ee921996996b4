// Package cost estimates the monthly AWS bill of processing a volume of
// orders in each design: the processor Lambda (arm64 and x86_64) against the
// always-on worker service on Fargate, each with the parts in front of it
// (HTTP API requests, SNS publishes), the order store every order is
// recorded in (a DynamoDB table, on-demand: what exactly-once payment costs)
// and, for the service, the SQS queue it drains. Every price and free-tier allowance is a parameter whose default
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
	// DynamoDBWritesPerMillion and DynamoDBReadsPerMillion are the price of
	// 1M write and 1M read request units of an on-demand DynamoDB table
	// (Standard table class); DynamoDBStorageGBMonth is the price of a
	// GB-month of its storage.
	DynamoDBWritesPerMillion float64 `json:"dynamodb_writes_per_million"`
	DynamoDBReadsPerMillion  float64 `json:"dynamodb_reads_per_million"` // see DynamoDBWritesPerMillion
	DynamoDBStorageGBMonth   float64 `json:"dynamodb_storage_gb_month"`  // see DynamoDBWritesPerMillion
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
		// On-demand throughput, halved on 2024-11-01 (from $1.25 and $0.25).
		DynamoDBWritesPerMillion: 0.625,
		DynamoDBReadsPerMillion:  0.125,
		DynamoDBStorageGBMonth:   0.25,
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
	// DynamoDBStorageGB is the DynamoDB storage free each month, GB
	// (Standard table class; on-demand requests have no free tier).
	DynamoDBStorageGB float64 `json:"dynamodb_storage_gb"`
}

// DefaultFreeTier is AWS's always-free tier.
func DefaultFreeTier() FreeTier {
	return FreeTier{LambdaRequests: 1_000_000, LambdaGBSeconds: 400_000, SNSPublishes: 1_000_000, SQSRequests: 1_000_000, DynamoDBStorageGB: 25}
}

// Params describe the workload and both designs.
type Params struct {
	// Orders is the volume, in orders a month.
	Orders float64 `json:"orders"`

	// MemoryMB and Duration size the processor Lambda: one invocation per
	// order (SNS delivers one message per invocation).
	MemoryMB int           `json:"memory_mb"`
	Duration time.Duration `json:"duration"` // see MemoryMB
	// FreeTierOn applies the always-free tier (Lambda, SNS, SQS, DynamoDB
	// storage).
	FreeTierOn bool `json:"free_tier"`

	// The worker service: Tasks Fargate tasks of TaskVCPU vCPU and
	// TaskMemoryGB GB on TaskArch, running Hours a month, each with a
	// public IPv4 address when PublicIP. Hours is the month: with a
	// TaskProfile, its day repeats over Hours / 24 days and Tasks is
	// ignored.
	TaskVCPU     float64 `json:"task_vcpu"`
	TaskMemoryGB float64 `json:"task_memory_gb"` // see TaskVCPU
	Tasks        int     `json:"tasks"`          // see TaskVCPU
	TaskArch     string  `json:"task_arch"`      // see TaskVCPU
	Hours        float64 `json:"hours"`          // see TaskVCPU
	PublicIP     bool    `json:"public_ip"`      // see TaskVCPU
	// TaskProfile is the service's tasks over a day, as auto scaling moves
	// them between its minimum and maximum; nil for Tasks always on.
	TaskProfile Profile `json:"task_profile,omitempty"`
	// WorkersPerTask is the worker goroutines of each task, each paying
	// one order per Duration: what the service can pay (CapacityOrders).
	WorkersPerTask int `json:"workers_per_task"`

	// The service's SQS traffic: one send per order (SNS's delivery), and
	// receives and deletes in batches of SQSBatch; each task's Pollers long
	// polls (PollWait) also make one empty receive per PollWait while idle.
	SQSBatch int           `json:"sqs_batch"`
	Pollers  int           `json:"sqs_pollers"`   // see SQSBatch
	PollWait time.Duration `json:"sqs_poll_wait"` // see SQSBatch

	// Store is the order store's traffic, the same in every design.
	Store Store `json:"store"`

	Prices Prices   `json:"prices"`              // unit prices
	Free   FreeTier `json:"free_tier_allowance"` // free-tier allowances, applied when FreeTierOn

	// CurveOrders are the volumes, orders a month, of Estimate.Curve
	// besides its marked points; nil for decades from 10,000 to 100M (and
	// on, to the first past the furthest marked point).
	CurveOrders []float64 `json:"curve_orders,omitempty"`
}

// Store describes the order store: the DynamoDB orders table (on-demand
// capacity, Standard table class) that records every order the AWS paths
// take, so that at-least-once delivery pays each order once in effect. Every
// change is a conditional write; a write whose condition fails consumes its
// write units all the same.
type Store struct {
	// Writes is the conditional writes of one order on the async path (API
	// -> SNS -> processor Lambda, or -> SQS -> worker): the API records it as
	// pending (PutItem), the processor claims it and records the outcome
	// (UpdateItem each).
	Writes float64 `json:"writes_per_order"`
	// DuplicateRate is the share of the processor's deliveries that are
	// duplicates (SNS, Lambda and SQS deliver at least once), 0 to less than
	// 1: each order is delivered 1 / (1 - DuplicateRate) times. Each
	// duplicate costs DuplicateWrites more conditional writes (its claim,
	// refused).
	DuplicateRate   float64 `json:"duplicate_rate"`
	DuplicateWrites float64 `json:"writes_per_duplicate"` // see DuplicateRate
	// StatusReads is the status checks of one order by its client (GET
	// /orders/{id}), each a strongly consistent GetItem.
	StatusReads float64 `json:"status_reads_per_order"`
	// ItemKB is the size of an order's item, in KB (1,024 bytes): a write
	// consumes one write unit per KB started, a strongly consistent read one
	// read unit per 4 KB started, and storage is billed on it (DynamoDB adds
	// 100 bytes of overhead per item; include them).
	ItemKB float64 `json:"item_kb"`
	// Retention is how long an order's item is kept after its last change
	// before its TTL expires it (dynamostore.DefaultRetention, 7 days, by
	// default; DynamoDB deletes expired items within a few days more, and
	// the deletions are free).
	Retention time.Duration `json:"retention"`
}

// DefaultStore is the order store as internal/orderstore/dynamostore uses
// it: 3 writes per order (create, claim, finish), no duplicates, one status
// check per order, items of about 0.5 KB kept 7 days.
func DefaultStore() Store {
	return Store{Writes: 3, DuplicateWrites: 1, StatusReads: 1, ItemKB: 0.5, Retention: 7 * 24 * time.Hour}
}

// MaxItemKB is DynamoDB's largest item, 400 KB.
const MaxItemKB = 400

// DuplicatesPerOrder is the duplicate deliveries of one order: with a share
// d of deliveries duplicates, d / (1 - d).
func (s Store) DuplicatesPerOrder() float64 {
	return s.DuplicateRate / (1 - s.DuplicateRate)
}

// WritesPerOrder is the conditional writes of one order, its duplicates'
// included.
func (s Store) WritesPerOrder() float64 {
	return s.Writes + s.DuplicatesPerOrder()*s.DuplicateWrites
}

// WriteUnitsPerOrder is the write request units of one order: one per KB
// of its item, started, per write.
func (s Store) WriteUnitsPerOrder() float64 {
	return s.WritesPerOrder() * math.Ceil(s.ItemKB)
}

// ReadUnitsPerOrder is the read request units of one order's status
// checks: one per 4 KB of its item, started, per strongly consistent read.
func (s Store) ReadUnitsPerOrder() float64 {
	return s.StatusReads * math.Ceil(s.ItemKB/4)
}

// GBMonthsPerOrder is the storage one order occupies in a month of
// monthHours hours: its item (KB / 1024²  GB) for Retention. At a steady
// volume of n orders a month, the table holds n x GBMonthsPerOrder GB.
func (s Store) GBMonthsPerOrder(monthHours float64) float64 {
	return s.ItemKB / (1024 * 1024) * s.Retention.Hours() / monthHours
}

// Defaults are the study's workload (512 MB x 3 s per order), a worker
// service of one 0.5 vCPU, 1 GB Linux/x86_64 task with one worker (the
// study's) and DefaultStore, at DefaultPrices.
func Defaults() Params {
	return Params{
		MemoryMB: 512, Duration: 3 * time.Second, FreeTierOn: true,
		TaskVCPU: 0.5, TaskMemoryGB: 1, Tasks: 1, TaskArch: X86_64, Hours: HoursPerMonth, WorkersPerTask: 1,
		SQSBatch: 10, Pollers: 1, PollWait: 20 * time.Second,
		Store:  DefaultStore(),
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
	if p.TaskProfile == nil {
		check(p.Tasks >= 1, "tasks %d: must be at least 1", p.Tasks)
	} else if err := p.TaskProfile.validate(); err != nil {
		errs = append(errs, err)
	}
	check(p.WorkersPerTask >= 1, "workers per task %d (--workers-per-task): must be at least 1", p.WorkersPerTask)
	check(p.TaskArch == ARM64 || p.TaskArch == X86_64, "task architecture %q: must be %s or %s", p.TaskArch, ARM64, X86_64)
	check(finite(p.Hours) && p.Hours > 0 && p.Hours <= 744, "hours %v: must be more than 0 and at most 744", p.Hours)
	check(p.SQSBatch >= 1 && p.SQSBatch <= 10, "SQS batch %d: must be 1 to 10", p.SQSBatch)
	check(p.Pollers >= 0, "SQS pollers %d: must be 0 or more", p.Pollers)
	check(p.PollWait > 0 && p.PollWait <= 20*time.Second, "SQS poll wait %v: must be more than 0 and at most 20s", p.PollWait)
	st := p.Store
	check(finite(st.Writes) && st.Writes >= 0, "order store writes per order %v (--store-writes): must be 0 or more", st.Writes)
	check(finite(st.DuplicateRate) && st.DuplicateRate >= 0 && st.DuplicateRate < 1,
		"duplicate rate %v (--duplicate-rate): must be 0 or more and less than 1 (the share of deliveries that are duplicates)", st.DuplicateRate)
	check(finite(st.DuplicateWrites) && st.DuplicateWrites >= 0, "order store writes per duplicate %v (--duplicate-writes): must be 0 or more", st.DuplicateWrites)
	check(finite(st.StatusReads) && st.StatusReads >= 0, "status reads per order %v (--status-reads): must be 0 or more", st.StatusReads)
	check(finite(st.ItemKB) && st.ItemKB > 0 && st.ItemKB <= MaxItemKB, "order store item size %v KB (--store-item-kb): must be more than 0 and at most %d", st.ItemKB, MaxItemKB)
	check(st.Retention > 0, "order store retention %v (--store-retention): must be more than 0", st.Retention)
	check(len(p.CurveOrders) <= MaxCurveOrders, "%d curve volumes (--curve): at most %d", len(p.CurveOrders), MaxCurveOrders)
	for _, n := range p.CurveOrders {
		check(finite(n) && n >= 0, "curve volume %v (--curve): must be 0 or more orders a month", n)
	}
	for name, v := range map[string]float64{
		"Lambda request price": p.Prices.LambdaRequestsPerMillion, "Lambda arm64 GB-second price": p.Prices.LambdaGBSecondARM64,
		"Lambda x86_64 GB-second price": p.Prices.LambdaGBSecondX86, "SNS price": p.Prices.SNSPublishesPerMillion,
		"SQS price": p.Prices.SQSRequestsPerMillion, "HTTP API price": p.Prices.HTTPAPIRequestsPerMillion,
		"Fargate x86_64 vCPU price": p.Prices.FargateVCPUHourX86, "Fargate x86_64 GB price": p.Prices.FargateGBHourX86,
		"Fargate arm64 vCPU price": p.Prices.FargateVCPUHourARM64, "Fargate arm64 GB price": p.Prices.FargateGBHourARM64,
		"public IPv4 price": p.Prices.PublicIPv4Hour, "free Lambda requests": p.Free.LambdaRequests,
		"free Lambda GB-seconds": p.Free.LambdaGBSeconds, "free SNS publishes": p.Free.SNSPublishes, "free SQS requests": p.Free.SQSRequests,
		"DynamoDB write price (--price-dynamodb-writes)":    p.Prices.DynamoDBWritesPerMillion,
		"DynamoDB read price (--price-dynamodb-reads)":      p.Prices.DynamoDBReadsPerMillion,
		"DynamoDB storage price (--price-dynamodb-storage)": p.Prices.DynamoDBStorageGBMonth,
		"free DynamoDB storage (--free-dynamodb-storage)":   p.Free.DynamoDBStorageGB,
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

// TaskHours is the worker service's task-hours in the month: Tasks x Hours,
// or with a TaskProfile its average tasks x Hours.
func (p Params) TaskHours() float64 {
	if p.TaskProfile != nil {
		return p.TaskProfile.AverageTasks() * p.Hours
	}
	return float64(p.Tasks) * p.Hours
}

// PeakTasks is the most tasks the service runs: Tasks, or the profile's
// peak.
func (p Params) PeakTasks() int {
	if p.TaskProfile != nil {
		return p.TaskProfile.Peak()
	}
	return p.Tasks
}

// CapacityOrders is the most orders a month the worker service can pay:
// every worker of every task-hour busy, one order per Duration each.
func (p Params) CapacityOrders() float64 {
	return p.TaskHours() * 3600 * float64(p.WorkersPerTask) / p.Duration.Seconds()
}

// PeakOrdersPerSecond is what the service pays a second at its most tasks.
func (p Params) PeakOrdersPerSecond() float64 {
	return float64(p.PeakTasks()*p.WorkersPerTask) / p.Duration.Seconds()
}
