package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"flashsale/internal/cost"
)

// TestCostStudy runs the two volumes of the study: 10,000 orders a month
// inside the Lambda free tier, 300,000 past it, with every line item and,
// in each of the three designs, the order store's line.
func TestCostStudy(t *testing.T) {
	tests := []struct {
		orders string
		want   []string
		store  string // once per design
	}{{
		orders: "10000",
		want: []string{
			"10,000 orders/month are inside the Lambda free tier, which covers up to 266,667 orders/month at 512 MB x 3s.",
			"Lambda arm64 $0.03, Lambda x86_64 $0.03, worker service $18.05 a month: Lambda saves $18.02 a month.",
			"The order store (exactly-once) adds $0.02 a month to every design, $0.0020 per 1,000 orders; it does not move the break-even.",
		},
		store: "Order store (exactly-once): 3 writes and 1 read per order (3 WRU, 1 RRU), $0.0020 per 1,000 orders, $0.02 a month.",
	}, {
		orders: "300000",
		want: []string{
			"300,000 orders/month are past the Lambda free tier, which covers up to 266,667 orders/month at 512 MB x 3s: 50,000 of 450,000 GB-seconds are billed.",
			"Lambda arm64 $1.57, Lambda x86_64 $1.73, worker service $18.92 a month: Lambda saves $17.35 a month.",
		},
		store: "Order store (exactly-once): 3 writes and 1 read per order (3 WRU, 1 RRU), $0.0020 per 1,000 orders, $0.60 a month.",
	}}
	items := []string{"HTTP API requests (common)", "SNS publishes (common)", "Lambda requests", "Lambda compute", "SQS requests", "Fargate vCPU", "Fargate memory",
		"DynamoDB writes (common)", "DynamoDB reads (common)", "DynamoDB storage (common)", "Total", "Break-even, Lambda arm64: 1,176,767 orders/month"}
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
		if n := strings.Count(stdout, "  "+tt.store+"\n"); n != 3 {
			t.Errorf("--orders %s: %q %d times, want once per design:\n%s", tt.orders, tt.store, n, stdout)
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

// TestCostStoreFlags: the order store's flags reach the estimate, and each
// design shows the store's writes, reads and cost per 1,000 orders.
func TestCostStoreFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		store cost.StoreCost
		line  string
	}{{
		// The example: 3,000 WRU + 1,000 RRU = $0.00375 + $0.00025.
		name:  "1,000 orders at $1.25 and $0.25",
		args:  []string{"--orders", "1000", "--price-dynamodb-writes", "1.25", "--price-dynamodb-reads", "0.25"},
		store: cost.StoreCost{WritesPerOrder: 3, ReadsPerOrder: 1, WriteUnitsPerOrder: 3, ReadUnitsPerOrder: 1, PerThousandOrders: 0.004, Monthly: 0.004},
		line:  "Order store (exactly-once): 3 writes and 1 read per order (3 WRU, 1 RRU), $0.0040 per 1,000 orders, $0.0040 a month.",
	}, {
		// 1 delivery in 10 a duplicate: 1/9 more write an order; 2 KB items: 2 WRU a write.
		name:  "duplicates, status checks, 2 KB items",
		args:  []string{"--orders", "90000", "--duplicate-rate", "0.1", "--status-reads", "4", "--store-item-kb", "2"},
		store: cost.StoreCost{WritesPerOrder: 3 + 1.0/9, ReadsPerOrder: 4, WriteUnitsPerOrder: 2 * (3 + 1.0/9), ReadUnitsPerOrder: 4},
		line:  "Order store (exactly-once): 3.11 writes and 4 reads per order (6.22 WRU, 4 RRU), $0.0044 per 1,000 orders, $0.40 a month.",
	}, {
		name:  "no status checks",
		args:  []string{"--orders", "1000", "--status-reads", "0", "--store-writes", "2"},
		store: cost.StoreCost{WritesPerOrder: 2, WriteUnitsPerOrder: 2, PerThousandOrders: 0.00125, Monthly: 0.00125},
		line:  "Order store (exactly-once): 2 writes and 0 reads per order (2 WRU, 0 RRU), $0.0013 per 1,000 orders, $0.0013 a month.",
	}}
	// (3 + 1/9) x 2 WRU x $0.625/M + 4 RRU x $0.125/M an order.
	tests[1].store.PerThousandOrders = 1000 * (2*(3+1.0/9)*0.625 + 4*0.125) / 1e6
	tests[1].store.Monthly = 90 * tests[1].store.PerThousandOrders
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"cost"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if n := strings.Count(stdout, "  "+tt.line+"\n"); n != 3 {
				t.Errorf("%q %d times, want once per design:\n%s", tt.line, n, stdout)
			}
			code, stdout, stderr = runCmd(t, append([]string{"cost", "--json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("--json: exit %d: %s", code, stderr)
			}
			var e cost.Estimate
			if err := json.Unmarshal([]byte(stdout), &e); err != nil {
				t.Fatal(err)
			}
			for _, d := range e.Designs {
				got, want := d.Store, tt.store
				for _, f := range []struct {
					name      string
					got, want float64
				}{
					{"writes per order", got.WritesPerOrder, want.WritesPerOrder}, {"reads per order", got.ReadsPerOrder, want.ReadsPerOrder},
					{"WRU per order", got.WriteUnitsPerOrder, want.WriteUnitsPerOrder}, {"RRU per order", got.ReadUnitsPerOrder, want.ReadUnitsPerOrder},
					{"per 1,000 orders", got.PerThousandOrders, want.PerThousandOrders}, {"a month", got.Monthly, want.Monthly},
				} {
					if math.Abs(f.got-f.want) > 1e-12 {
						t.Errorf("%s: %s %v, want %v", d.Name, f.name, f.got, f.want)
					}
				}
			}
		})
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
		{"negative status reads", []string{"--orders", "1", "--status-reads", "-1"}, 2, "status reads per order -1 (--status-reads): must be 0 or more"},
		{"NaN status reads", []string{"--orders", "1", "--status-reads", "NaN"}, 2, "(--status-reads)"},
		{"status reads not a number", []string{"--orders", "1", "--status-reads", "many"}, 2, "-status-reads"},
		{"negative duplicate rate", []string{"--orders", "1", "--duplicate-rate", "-0.1"}, 2, "(--duplicate-rate)"},
		{"duplicate rate 1", []string{"--orders", "1", "--duplicate-rate", "1"}, 2, "duplicate rate 1 (--duplicate-rate): must be 0 or more and less than 1"},
		{"NaN duplicate rate", []string{"--orders", "1", "--duplicate-rate", "NaN"}, 2, "duplicate rate NaN (--duplicate-rate)"},
		{"negative store writes", []string{"--orders", "1", "--store-writes", "-3"}, 2, "(--store-writes)"},
		{"infinite duplicate writes", []string{"--orders", "1", "--duplicate-writes", "+Inf"}, 2, "(--duplicate-writes)"},
		{"empty items", []string{"--orders", "1", "--store-item-kb", "0"}, 2, "(--store-item-kb)"},
		{"no retention", []string{"--orders", "1", "--store-retention", "0s"}, 2, "(--store-retention)"},
		{"negative DynamoDB price", []string{"--orders", "1", "--price-dynamodb-writes", "-1"}, 2, "(--price-dynamodb-writes)"},
		{"tasks and a profile", []string{"--orders", "1", "--tasks", "2", "--task-profile", "2@24h"}, 2, "--tasks and --task-profile: give one (--tasks N is --task-profile N@24h)"},
		{"profile short of a day", []string{"--orders", "1", "--task-profile", "2@20h,10@3h"}, 2, `invalid value "2@20h,10@3h" for flag -task-profile: the durations add up to 23h0m0s: a profile covers a day, 24h`},
		{"profile past a day", []string{"--orders", "1", "--task-profile", "2@20h,10@3h,40@2h"}, 2, `flag -task-profile: the durations add up to 25h0m0s by "40@2h"`},
		{"profile without units", []string{"--orders", "1", "--task-profile", "2@20,1"}, 2, `flag -task-profile: "2@20": duration "20": want a duration such as 20h`},
		{"profile of no task", []string{"--orders", "1", "--task-profile", "0@24h"}, 2, "flag -task-profile: no task at any hour"},
		{"profile with two rests", []string{"--orders", "1", "--task-profile", "2,3"}, 2, `flag -task-profile: "3": only one item may omit its @DURATION`},
		{"no workers", []string{"--orders", "1", "--workers-per-task", "0"}, 2, "workers per task 0 (--workers-per-task): must be at least 1"},
		{"bad curve", []string{"--orders", "1", "--curve", "1e6,x"}, 2, `flag -curve: "x": want a number of orders a month`},
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
		"price-http-api", "price-fargate-vcpu-x86_64", "price-fargate-gb-x86_64", "price-fargate-vcpu-arm64", "price-fargate-gb-arm64", "price-ipv4",
		"price-dynamodb-writes", "price-dynamodb-reads", "price-dynamodb-storage", "free-dynamodb-storage"} {
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
	for _, want := range []string{"$18.02", "$17.02", "$17.77", "us-east-1", "exactly-once",
		"-store-writes", "-duplicate-rate", "-duplicate-writes", "-status-reads", "-store-item-kb", "-store-retention"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestCostTaskProfile: the scaled profile and the curve through the
// command, text and JSON.
func TestCostTaskProfile(t *testing.T) {
	args := []string{"cost", "--orders", "300000", "--task-profile", "2@20h,10@3h,40@1h", "--workers-per-task", "20",
		"--task-arch", "arm64", "--task-vcpu", "0.25", "--task-memory", "0.5"}
	code, stdout, stderr := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Worker service on Fargate: 0.25 vCPU, 0.5 GB, Linux/arm64 tasks, 2@20h,10@3h,40@1h a day (4.58 tasks on average), 730 h\n",
		"Lambda arm64 $1.57, Lambda x86_64 $1.73, worker service $33.94 a month: Lambda saves $32.37 a month.",
		"2@20h,10@3h,40@1h a day: 4.58 tasks on average, 40 at the peak",
		"Break-even, Lambda arm64: 1,947,980 orders/month",
		"\nCurve: each design's monthly total by volume",
		"       300,000      0.11         $1.57          $1.73          $33.94  Lambda by $32.37     --orders\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runCmd(t, append(args, "--json", "--curve", "1e5,1e7")...)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, stderr)
	}
	var e cost.Estimate
	if err := json.Unmarshal([]byte(stdout), &e); err != nil {
		t.Fatal(err)
	}
	if e.Params.Tasks != 0 || e.Params.TaskProfile.String() != "2@20h,10@3h,40@1h" || e.Params.WorkersPerTask != 20 {
		t.Errorf("params: tasks %d, profile %v, workers per task %d", e.Params.Tasks, e.Params.TaskProfile, e.Params.WorkersPerTask)
	}
	// 110 task-hours a day over 730 / 24 days; 0.25 vCPU and 0.5 GB on arm64.
	taskHours := 110.0 / 24 * 730
	if math.Abs(e.TaskHours-taskHours) > 1e-9 || math.Abs(e.CapacityOrders-80_300_000) > 1e-3 {
		t.Errorf("task-hours %v, capacity %v", e.TaskHours, e.CapacityOrders)
	}
	svc := e.Design(cost.DesignService)
	if want := taskHours * (0.25*0.03238 + 0.5*0.00356); math.Abs(svc.Own-want) > 1e-9 {
		t.Errorf("service %v, want %v", svc.Own, want)
	}
	var volumes []float64
	for _, pt := range e.Curve {
		volumes = append(volumes, math.Round(pt.Orders))
	}
	if want := []float64{100_000, 266_667, 300_000, 1_607_913, 1_947_980, 10_000_000, 80_300_000}; !slices.Equal(volumes, want) {
		t.Errorf("curve volumes %v, want %v", volumes, want)
	}
	if !strings.Contains(stdout, `"task_profile": [`) || !strings.Contains(stdout, `"marks": [`) {
		t.Errorf("JSON lacks the profile or the curve's marks:\n%s", stdout)
	}
}
