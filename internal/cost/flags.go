package cost

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// RegisterFlags defines a flag for every parameter but Orders on fs, with
// p's values as defaults and, for prices and free-tier allowances, their
// region and date in the help text; parsing fs sets p.
func (p *Params) RegisterFlags(fs *flag.FlagSet) {
	src := " (" + PriceSource + ")"
	fs.IntVar(&p.MemoryMB, "memory", p.MemoryMB, "processor Lambda memory, MB")
	fs.DurationVar(&p.Duration, "duration", p.Duration, "processor Lambda duration per order (the payment)")
	fs.BoolVar(&p.FreeTierOn, "free-tier", p.FreeTierOn, "apply the always-free tier (Lambda, SNS, SQS, DynamoDB storage); --free-tier=false for an account that uses it up elsewhere")

	fs.Float64Var(&p.TaskVCPU, "task-vcpu", p.TaskVCPU, "worker service: vCPU per Fargate task")
	fs.Float64Var(&p.TaskMemoryGB, "task-memory", p.TaskMemoryGB, "worker service: memory per Fargate task, GB")
	fs.IntVar(&p.Tasks, "tasks", p.Tasks, "worker service: number of always-on Fargate tasks (N is --task-profile N@24h)")
	fs.Var(&p.TaskProfile, "task-profile", "worker service: tasks over a day as auto scaling moves them, `TASKS@DURATION,...` covering 24h, repeated every day of --hours; one item may leave out @DURATION for the rest of the day (e.g. "+ProfileExample+"; instead of --tasks)")
	fs.IntVar(&p.WorkersPerTask, "workers-per-task", p.WorkersPerTask, "worker service: worker goroutines per task (flashsale worker --workers), each paying one order per --duration: the service's capacity")
	fs.StringVar(&p.TaskArch, "task-arch", p.TaskArch, "worker service: Fargate architecture, "+X86_64+" or "+ARM64)
	fs.Float64Var(&p.Hours, "hours", p.Hours, "hours a month the service runs (730: the average month); with --task-profile, the month its day repeats over")
	fs.BoolVar(&p.PublicIP, "public-ip", p.PublicIP, "worker service: each task has a public IPv4 address")
	fs.IntVar(&p.SQSBatch, "sqs-batch", p.SQSBatch, "worker service: messages per SQS receive and delete")
	fs.IntVar(&p.Pollers, "sqs-pollers", p.Pollers, "worker service: concurrent long polls per task, each one empty receive per --sqs-wait while idle")
	fs.DurationVar(&p.PollWait, "sqs-wait", p.PollWait, "worker service: SQS long-poll wait")

	st := &p.Store
	fs.Float64Var(&st.Writes, "store-writes", st.Writes, "order store: conditional writes per order on the async path (the API's create, the processor's claim and finish)")
	fs.Float64Var(&st.DuplicateRate, "duplicate-rate", st.DuplicateRate, "order store: share of the processor's deliveries that are duplicates, 0 to less than 1 (0.1: 1 delivery in 10)")
	fs.Float64Var(&st.DuplicateWrites, "duplicate-writes", st.DuplicateWrites, "order store: conditional writes per duplicate delivery (its refused claim)")
	fs.Float64Var(&st.StatusReads, "status-reads", st.StatusReads, "order store: status checks per order (GET /orders/{id}), each a strongly consistent read; an average")
	fs.Float64Var(&st.ItemKB, "store-item-kb", st.ItemKB, "order store: size of an order's item, KB (1 WRU per KB per write, 1 RRU per 4 KB per read)")
	fs.DurationVar(&st.Retention, "store-retention", st.Retention, "order store: how long an order is kept after its last change (its TTL)")

	pr := &p.Prices
	fs.Float64Var(&pr.LambdaRequestsPerMillion, "price-lambda-requests", pr.LambdaRequestsPerMillion, "USD per 1M Lambda requests"+src)
	fs.Float64Var(&pr.LambdaGBSecondARM64, "price-lambda-gbs-arm64", pr.LambdaGBSecondARM64, "USD per Lambda GB-second, arm64"+src)
	fs.Float64Var(&pr.LambdaGBSecondX86, "price-lambda-gbs-x86_64", pr.LambdaGBSecondX86, "USD per Lambda GB-second, x86_64"+src)
	fs.Float64Var(&pr.SNSPublishesPerMillion, "price-sns", pr.SNSPublishesPerMillion, "USD per 1M SNS publishes, standard topic"+src)
	fs.Float64Var(&pr.SQSRequestsPerMillion, "price-sqs", pr.SQSRequestsPerMillion, "USD per 1M SQS requests, standard queue"+src)
	fs.Float64Var(&pr.HTTPAPIRequestsPerMillion, "price-http-api", pr.HTTPAPIRequestsPerMillion, "USD per 1M API Gateway HTTP API requests"+src)
	fs.Float64Var(&pr.FargateVCPUHourX86, "price-fargate-vcpu-x86_64", pr.FargateVCPUHourX86, "USD per Fargate vCPU-hour, Linux/x86_64"+src)
	fs.Float64Var(&pr.FargateGBHourX86, "price-fargate-gb-x86_64", pr.FargateGBHourX86, "USD per Fargate GB-hour, Linux/x86_64"+src)
	fs.Float64Var(&pr.FargateVCPUHourARM64, "price-fargate-vcpu-arm64", pr.FargateVCPUHourARM64, "USD per Fargate vCPU-hour, Linux/arm64"+src)
	fs.Float64Var(&pr.FargateGBHourARM64, "price-fargate-gb-arm64", pr.FargateGBHourARM64, "USD per Fargate GB-hour, Linux/arm64"+src)
	fs.Float64Var(&pr.PublicIPv4Hour, "price-ipv4", pr.PublicIPv4Hour, "USD per public IPv4 address-hour"+src)
	fs.Float64Var(&pr.DynamoDBWritesPerMillion, "price-dynamodb-writes", pr.DynamoDBWritesPerMillion, "USD per 1M DynamoDB write request units, on-demand, Standard table class"+src)
	fs.Float64Var(&pr.DynamoDBReadsPerMillion, "price-dynamodb-reads", pr.DynamoDBReadsPerMillion, "USD per 1M DynamoDB read request units, on-demand, Standard table class"+src)
	fs.Float64Var(&pr.DynamoDBStorageGBMonth, "price-dynamodb-storage", pr.DynamoDBStorageGBMonth, "USD per DynamoDB GB-month of storage, Standard table class"+src)

	fs.Var((*volumeList)(&p.CurveOrders), "curve", "`ORDERS,...`: volumes of the curve, orders a month (default decades from 10000 to 1e8); the break-evens, the free tier's end, the service's capacity and --orders are always among them")

	fr := &p.Free
	fs.Float64Var(&fr.LambdaRequests, "free-lambda-requests", fr.LambdaRequests, "Lambda requests free each month"+src)
	fs.Float64Var(&fr.LambdaGBSeconds, "free-lambda-gbs", fr.LambdaGBSeconds, "Lambda GB-seconds free each month"+src)
	fs.Float64Var(&fr.SNSPublishes, "free-sns", fr.SNSPublishes, "SNS publishes free each month"+src)
	fs.Float64Var(&fr.SQSRequests, "free-sqs", fr.SQSRequests, "SQS requests free each month"+src)
	fs.Float64Var(&fr.DynamoDBStorageGB, "free-dynamodb-storage", fr.DynamoDBStorageGB, "DynamoDB storage free each month, GB"+src)
}

// Description is the cost command's help: what it prices and how.
var Description = fmt.Sprintf(`Prints the monthly AWS cost of processing --orders orders a month in each design:
the processor Lambda (arm64 and x86_64: requests, and GB-seconds at --memory x
--duration per order) against the always-on worker service (Fargate vCPU-hours and
GB-hours for --tasks tasks of --task-vcpu and --task-memory, and its SQS requests),
each with the HTTP API requests and SNS publishes in front of it and the order
store behind it; then the totals, the break-even volume, and the curve: every
design's total over volumes (decades, or --curve), the break-evens among them.
Prices are %s public on-demand prices as of %s;
override any of them with its flag.

The worker service scales: --task-profile gives its tasks over a day instead of
--tasks always on, as TASKS@DURATION items that cover 24h, repeated every day of
the --hours month: %s is 2 tasks for 20 hours, 10 for 3 and
40 for 1 (4.58 on average, 3,346 task-hours a month). One item may leave out
@DURATION and take the rest of the day (40@1h,10@3h,2 is the same day); 0 tasks
is a service scaled to zero; each span is at least a minute (Fargate's minimum).
Each task runs --workers-per-task workers paying one order per --duration: the
most the service can pay, which the output and the curve point out.

The order store is the DynamoDB orders table (on-demand) that makes payments
exactly-once in effect, the same in every design: per order --store-writes
conditional writes (3: create, claim, finish), --duplicate-writes more per
duplicate delivery (--duplicate-rate is the share of deliveries that are
duplicates), and --status-reads strongly consistent reads (GET /orders/{id});
each order's item (--store-item-kb) is stored for --store-retention. Each design
shows its store's writes and reads per order and their cost per 1,000 orders.

The study's ~$17/month service: the default task (0.5 vCPU, 1 GB, Linux/x86_64,
730 h) is $18.02; 0.5 vCPU and 2 GB on arm64 is $17.02; the default task over a
30-day month (--hours 720) is $17.77.`, PriceRegion, PriceDate, ProfileExample)

// volumeList is a flag of comma-separated volumes, orders a month.
type volumeList []float64

func (v *volumeList) String() string {
	if v == nil {
		return ""
	}
	parts := make([]string, len(*v))
	for i, n := range *v {
		parts[i] = strconv.FormatFloat(n, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (v *volumeList) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty: give volumes, orders a month, such as 10000,1e5,1e6")
	}
	var list []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		n, err := strconv.ParseFloat(part, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
			return fmt.Errorf("%q: want a number of orders a month, 0 or more", part)
		}
		list = append(list, n)
	}
	if len(list) > MaxCurveOrders {
		return fmt.Errorf("%d volumes: at most %d", len(list), MaxCurveOrders)
	}
	*v = list
	return nil
}
