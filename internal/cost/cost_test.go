package cost_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"flashsale/internal/cost"
	"flashsale/internal/textout"
)

func approx(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, tol)
	}
}

func estimate(t *testing.T, orders float64, edit func(*cost.Params)) *cost.Estimate {
	t.Helper()
	p := cost.Defaults()
	p.Orders = orders
	if edit != nil {
		edit(&p)
	}
	e, err := cost.Compute(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func lineItem(t *testing.T, d *cost.Design, name string) cost.LineItem {
	t.Helper()
	for _, it := range d.Items {
		if strings.HasPrefix(it.Name, name) {
			return it
		}
	}
	t.Fatalf("%s has no %q line", d.Name, name)
	return cost.LineItem{}
}

// TestStudyFreeTier reproduces the study: the Lambda free tier (1M requests,
// 400,000 GB-seconds a month) lasts to ~266,667 orders at 512 MB x 3 s;
// 10,000 orders are inside it, 300,000 past it.
func TestStudyFreeTier(t *testing.T) {
	p := cost.Defaults()
	approx(t, "GB-seconds per order", p.GBSecondsPerOrder(), 1.5, 1e-12)
	approx(t, "free-tier orders", p.FreeTierOrders(), 400_000/1.5, 1e-6)

	in := estimate(t, 10_000, nil)
	if !in.InsideFreeTier {
		t.Error("10,000 orders: not inside the free tier")
	}
	for _, name := range []string{cost.DesignLambdaARM64, cost.DesignLambdaX86} {
		d := in.Design(name)
		req, gbs := lineItem(t, d, "Lambda requests"), lineItem(t, d, "Lambda compute")
		if req.Quantity != 10_000 || req.Free != 10_000 || req.Cost != 0 || gbs.Quantity != 15_000 || gbs.Free != 15_000 || gbs.Cost != 0 {
			t.Errorf("%s at 10,000 orders: %+v %+v, want all free", name, req, gbs)
		}
		// What is left is the HTTP API, $1.00 per 1M requests, and the
		// order store: 30,000 WRU x $0.625/M + 10,000 RRU x $0.125/M.
		approx(t, name+" total", d.Total, 0.01+0.02, 1e-12)
		approx(t, name+" own", d.Own, 0, 0)
	}

	past := estimate(t, 300_000, nil)
	if past.InsideFreeTier {
		t.Error("300,000 orders: inside the free tier")
	}
	arm, x86 := past.Design(cost.DesignLambdaARM64), past.Design(cost.DesignLambdaX86)
	gbs := lineItem(t, arm, "Lambda compute")
	if gbs.Quantity != 450_000 || gbs.Free != 400_000 {
		t.Errorf("GB-seconds %+v, want 450,000 with 400,000 free", gbs)
	}
	// 50,000 billable GB-seconds; requests are still free (300,000 < 1M).
	approx(t, "arm64 compute", gbs.Cost, 50_000*0.0000133334, 1e-9)
	approx(t, "x86_64 compute", lineItem(t, x86, "Lambda compute").Cost, 50_000*0.0000166667, 1e-9)
	// The HTTP API ($0.30) and the order store ($0.60) on top.
	approx(t, "arm64 total", arm.Total, 50_000*0.0000133334+0.30+0.60, 1e-9)
	approx(t, "x86_64 total", x86.Total, 50_000*0.0000166667+0.30+0.60, 1e-9)
	if lineItem(t, arm, "Lambda requests").Cost != 0 {
		t.Error("300,000 requests billed: the free tier has 1M")
	}
}

// TestStudyService reproduces the worker service's ~$17 a month and says
// which task sizes give it.
func TestStudyService(t *testing.T) {
	tests := []struct {
		name string
		edit func(*cost.Params)
		want float64
	}{
		{"default: 0.5 vCPU, 1 GB, x86_64, 730 h", nil, 0.5*0.04048*730 + 1*0.004445*730},                                               // 18.02
		{"0.5 vCPU, 2 GB, arm64", func(p *cost.Params) { p.TaskArch, p.TaskMemoryGB = cost.ARM64, 2 }, 0.5*0.03238*730 + 2*0.00356*730}, // 17.02
		{"default over 30 days", func(p *cost.Params) { p.Hours = 720 }, 0.5*0.04048*720 + 1*0.004445*720},                              // 17.77
		{"two tasks with public IPs", func(p *cost.Params) { p.Tasks, p.PublicIP = 2, true }, 2 * (0.5*0.04048*730 + 0.004445*730 + 0.005*730)},
	}
	rounded := []float64{18.02, 17.02, 17.77, 43.34}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, 10_000, tt.edit)
			svc := e.Design(cost.DesignService)
			approx(t, "service (Fargate and SQS)", svc.Own, tt.want, 1e-9)
			approx(t, "rounded", math.Round(svc.Own*100)/100, rounded[i], 1e-9)
		})
	}
}

func TestSQSRequests(t *testing.T) {
	// 10,000 sends (SNS's deliveries), 1,000 receives and 1,000 deletes in
	// batches of 10, and 730 h x 3600 / 20 s = 131,400 empty long polls.
	e := estimate(t, 10_000, nil)
	sqs := lineItem(t, e.Design(cost.DesignService), "SQS requests")
	if sqs.Quantity != 143_400 || sqs.Cost != 0 {
		t.Errorf("SQS %+v, want 143,400 requests, free", sqs)
	}
	e = estimate(t, 2_000_000, func(p *cost.Params) { p.Pollers = 2 })
	sqs = lineItem(t, e.Design(cost.DesignService), "SQS requests")
	want := 2_000_000 + 2*200_000 + 2*131_400.0
	if sqs.Quantity != want {
		t.Errorf("SQS quantity %v, want %v", sqs.Quantity, want)
	}
	approx(t, "SQS cost", sqs.Cost, (want-1_000_000)*0.40/1e6, 1e-9)
}

func TestFreeTierOff(t *testing.T) {
	e := estimate(t, 10_000, func(p *cost.Params) { p.FreeTierOn = false })
	if e.InsideFreeTier || e.FreeTierOrders != 0 {
		t.Errorf("free tier off: inside %v, orders %v", e.InsideFreeTier, e.FreeTierOrders)
	}
	arm := e.Design(cost.DesignLambdaARM64)
	// 10,000 x $0.20/M + 15,000 GB-s x $0.0000133334 + SNS 10,000 x $0.50/M + HTTP API 10,000 x $1/M,
	// and the order store: 30,000 WRU, 10,000 RRU and, billed too, its storage
	// (10,000 x 0.5 KB kept 168 of 730 hours) at $0.25 per GB-month.
	storage := 10_000 * 0.5 / (1024 * 1024) * 168 / 730 * 0.25
	approx(t, "arm64 total", arm.Total, 0.002+15_000*0.0000133334+0.005+0.01+0.02+storage, 1e-12)
	for _, it := range arm.Items {
		if it.Free != 0 {
			t.Errorf("%s: %v free with the free tier off", it.Name, it.Free)
		}
	}
}

// TestBreakEven checks the break-even volumes against the algebra: past the
// free tiers, Lambda arm64 costs $0.20/M + 1.5 x $0.0000133334 an order more,
// the service 1.2 SQS requests ($0.40/M) an order more plus $18.02005.
func TestBreakEven(t *testing.T) {
	e := estimate(t, 0, nil)
	byDesign := map[string]cost.BreakEven{}
	for _, be := range e.BreakEven {
		byDesign[be.Design] = be
	}
	// arm64, above 1M orders (every free tier used up):
	// D(N) = 0.2e-6(N-1e6) + 0.0000133334(1.5N-4e5) - 18.02005 - 0.4e-6(1.2N+131400-1e6)
	slope := 0.2e-6 + 1.5*0.0000133334 - 1.2*0.4e-6
	arm := (0.2 + 400_000*0.0000133334 + 18.02005 - 0.4e-6*868_600) / slope
	// x86_64 crosses below 1M orders, while requests are still free:
	// D(N) = 0.0000166667(1.5N-4e5) - 18.02005 - 0.4e-6(1.2N-868600)
	x86 := (400_000*0.0000166667 + 18.02005 - 0.4e-6*868_600) / (1.5*0.0000166667 - 1.2*0.4e-6)
	for name, want := range map[string]float64{cost.DesignLambdaARM64: arm, cost.DesignLambdaX86: x86} {
		be := byDesign[name]
		if be.Orders == nil {
			t.Fatalf("%s: no break-even", name)
		}
		approx(t, name+" break-even", *be.Orders, want, 1e-3)
		approx(t, name+" per second", *be.OrdersPerSecond, want/(730*3600), 1e-9)
		// At the break-even volume both designs cost the same.
		at := estimate(t, *be.Orders, nil)
		approx(t, name+" total at break-even", at.Design(name).Total, at.Design(cost.DesignService).Total, 1e-6)
	}
	approx(t, "arm64 (rounded)", math.Round(arm), 1_176_767, 1)

	// Lambda cheaper at every volume: a free service is never beaten...
	never := estimate(t, 0, func(p *cost.Params) {
		p.Prices.FargateVCPUHourX86, p.Prices.FargateGBHourX86, p.Prices.SQSRequestsPerMillion = 0, 0, 0
	})
	if be := never.BreakEven[0]; be.Orders == nil || *be.Orders != 0 {
		t.Errorf("free service: break-even %v, want 0 (Lambda never cheaper)", be.Orders)
	}
	// ...and free Lambda always wins.
	always := estimate(t, 0, func(p *cost.Params) {
		p.Prices.LambdaGBSecondARM64, p.Prices.LambdaRequestsPerMillion = 0, 0
	})
	if be := always.BreakEven[0]; be.Orders != nil {
		t.Errorf("free Lambda: break-even %v, want none", *be.Orders)
	}
	// Without the free tier the difference is linear from 0, and the idle
	// polls are billed: 131,400 x $0.40/M a month on the service's side.
	off := estimate(t, 0, func(p *cost.Params) { p.FreeTierOn = false })
	want := (18.02005 + 131_400*0.4e-6) / (0.2e-6 + 1.5*0.0000133334 - 1.2*0.4e-6)
	approx(t, "free tier off, arm64", *off.BreakEven[0].Orders, want, 1e-3)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*cost.Params)
		want string
	}{
		{"negative orders", func(p *cost.Params) { p.Orders = -1 }, "orders -1"},
		{"NaN orders", func(p *cost.Params) { p.Orders = math.NaN() }, "orders NaN"},
		{"memory", func(p *cost.Params) { p.MemoryMB = 64 }, "Lambda memory 64 MB"},
		{"duration", func(p *cost.Params) { p.Duration = 16 * time.Minute }, "Lambda duration 16m0s"},
		{"tasks", func(p *cost.Params) { p.Tasks = 0 }, "tasks 0"},
		{"arch", func(p *cost.Params) { p.TaskArch = "riscv" }, `task architecture "riscv"`},
		{"hours", func(p *cost.Params) { p.Hours = 800 }, "hours 800"},
		{"batch", func(p *cost.Params) { p.SQSBatch = 11 }, "SQS batch 11"},
		{"poll wait", func(p *cost.Params) { p.PollWait = 0 }, "SQS poll wait 0s"},
		{"price", func(p *cost.Params) { p.Prices.SQSRequestsPerMillion = -0.4 }, "SQS price -0.4"},
		{"free tier", func(p *cost.Params) { p.Free.LambdaGBSeconds = math.Inf(1) }, "free Lambda GB-seconds +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cost.Defaults()
			tt.edit(&p)
			_, err := cost.Compute(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one about %q", err, tt.want)
			}
		})
	}
	if err := cost.Defaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestFargateSizeValid(t *testing.T) {
	for _, tt := range []struct {
		vcpu, gb float64
		ok       bool
	}{
		{0.25, 0.5, true}, {0.25, 2, true}, {0.25, 3, false}, {0.5, 1, true}, {0.5, 0.5, false}, {0.5, 2, true},
		{1, 8, true}, {4, 30, true}, {8, 20, true}, {8, 18, false}, {16, 120, true}, {3, 8, false},
	} {
		if got := cost.FargateSizeValid(tt.vcpu, tt.gb); got != tt.ok {
			t.Errorf("FargateSizeValid(%v, %v) = %v", tt.vcpu, tt.gb, got)
		}
	}
	e := estimate(t, 1, func(p *cost.Params) { p.TaskMemoryGB = 0.5 })
	if len(e.Notes) != 1 || !strings.Contains(e.Notes[0], "no task of 0.5 vCPU and 0.5 GB") {
		t.Errorf("notes %q", e.Notes)
	}
}

// TestFlags checks that every price and allowance is a flag whose default is
// the default price and whose help gives its region and date, and that
// parsing the flags sets the parameters.
func TestFlags(t *testing.T) {
	p := cost.Defaults()
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	p.RegisterFlags(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "price-") || strings.HasPrefix(f.Name, "free-") && f.Name != "free-tier" {
			n++
			if !strings.Contains(f.Usage, cost.PriceRegion) || !strings.Contains(f.Usage, cost.PriceDate) {
				t.Errorf("--%s: help %q does not give the region and date", f.Name, f.Usage)
			}
		}
	})
	if n != 19 {
		t.Errorf("%d price and allowance flags, want 19 (14 prices, 5 allowances)", n)
	}
	if err := fs.Parse([]string{"--price-lambda-gbs-arm64", "0.00002", "--memory", "1024", "--duration", "100ms", "--task-arch", "arm64", "--free-tier=false", "--free-sqs", "5",
		"--store-writes", "4", "--duplicate-rate", "0.1", "--duplicate-writes", "2", "--status-reads", "2.5", "--store-item-kb", "3", "--store-retention", "720h",
		"--price-dynamodb-writes", "1.25", "--price-dynamodb-reads", "0.25", "--price-dynamodb-storage", "0.1", "--free-dynamodb-storage", "0"}); err != nil {
		t.Fatal(err)
	}
	want := cost.Defaults()
	want.Prices.LambdaGBSecondARM64, want.MemoryMB, want.Duration, want.TaskArch, want.FreeTierOn, want.Free.SQSRequests = 0.00002, 1024, 100*time.Millisecond, cost.ARM64, false, 5
	want.Store = cost.Store{Writes: 4, DuplicateRate: 0.1, DuplicateWrites: 2, StatusReads: 2.5, ItemKB: 3, Retention: 720 * time.Hour}
	want.Prices.DynamoDBWritesPerMillion, want.Prices.DynamoDBReadsPerMillion, want.Prices.DynamoDBStorageGBMonth, want.Free.DynamoDBStorageGB = 1.25, 0.25, 0.1, 0
	if !reflect.DeepEqual(p, want) {
		t.Errorf("after parsing:\n got  %+v\n want %+v", p, want)
	}
}

func TestWriteText(t *testing.T) {
	tests := []struct {
		orders float64
		want   []string
	}{{
		orders: 10_000,
		want: []string{
			`(?m)^Monthly cost of 10,000 orders/month$`,
			`(?m)^Prices: us-east-1 on-demand, 2026-11-25 \(each is a flag\); free tier on; 730 hours a month\.$`,
			`(?m)^  Lambda compute +15,000  GB-seconds +15,000  \$0\.0000133334 per GB-second +\$0\.00$`,
			`(?m)^  Fargate vCPU +365  vCPU-hours +-  \$0\.04048 per vCPU-hour +\$14\.78$`,
			`(?m)^  Fargate memory +730  GB-hours +-  \$0\.004445 per GB-hour +\$3\.24$`,
			`(?m)^  SQS requests \(send, receive, delete\) +143,400  requests +143,400  \$0\.40 per 1M requests +\$0\.00$`,
			`(?m)^  HTTP API requests \(common\) +10,000  requests +-  \$1\.00 per 1M requests +\$0\.01$`,
			`(?m)^  SNS publishes \(common\) +10,000  publishes +10,000  \$0\.50 per 1M publishes +\$0\.00$`,
			`(?m)^  DynamoDB writes \(common\) +30,000  WRU +-  \$0\.625 per 1M WRU +\$0\.02$`,
			`(?m)^  DynamoDB reads \(common\) +10,000  RRU +-  \$0\.125 per 1M RRU +\$0\.0013$`,
			`(?m)^  DynamoDB storage \(common\) +0\.0011  GB-months +0\.0011  \$0\.25 per GB-month +\$0\.00$`,
			`(?m)^  Order store \(exactly-once\): 3 writes and 1 read per order \(3 WRU, 1 RRU\), \$0\.0020 per 1,000 orders, \$0\.02 a month\.$`,
			`(?m)^  10,000 orders/month are inside the Lambda free tier, which covers up to 266,667 orders/month at 512 MB x 3s\.$`,
			`(?m)^  Lambda arm64 \$0\.03, Lambda x86_64 \$0\.03, worker service \$18\.05 a month: Lambda saves \$18\.02 a month\.$`,
			`(?m)^  The order store \(exactly-once\) adds \$0\.02 a month to every design, \$0\.0020 per 1,000 orders; it does not move the break-even\.$`,
			`(?m)^  The worker service itself \(Fargate and SQS\) costs \$18\.02 a month`,
			`(?m)^  Break-even, Lambda arm64: 1,176,767 orders/month \(0\.45 orders/s on average\); below it Lambda costs less\.$`,
			`(?m)^  Break-even, Lambda x86_64: 992,628 orders/month`,
		},
	}, {
		orders: 300_000,
		want: []string{
			`(?m)^  Lambda compute +450,000  GB-seconds +400,000  \$0\.0000133334 per GB-second +\$0\.67$`,
			`(?m)^  Lambda compute +450,000  GB-seconds +400,000  \$0\.0000166667 per GB-second +\$0\.83$`,
			`(?m)^  300,000 orders/month are past the Lambda free tier, which covers up to 266,667 orders/month at 512 MB x 3s: 50,000 of 450,000 GB-seconds are billed\.$`,
			`(?m)^  Order store \(exactly-once\): 3 writes and 1 read per order \(3 WRU, 1 RRU\), \$0\.0020 per 1,000 orders, \$0\.60 a month\.$`,
			`(?m)^  Lambda arm64 \$1\.57, Lambda x86_64 \$1\.73, worker service \$18\.92 a month: Lambda saves \$17\.35 a month\.$`,
		},
	}}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := cost.WriteText(&b, estimate(t, tt.orders, nil)); err != nil {
			t.Fatal(err)
		}
		for _, re := range tt.want {
			if !regexp.MustCompile(re).MatchString(b.String()) {
				t.Errorf("%v orders: output does not match %s:\n%s", tt.orders, re, b.String())
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	e := estimate(t, 300_000, nil)
	var b bytes.Buffer
	if err := textout.WriteJSON(&b, e); err != nil {
		t.Fatal(err)
	}
	var back cost.Estimate
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, e) {
		t.Errorf("JSON round trip changed the estimate:\n%s", b.String())
	}
	for _, key := range []string{`"inside_free_tier": false`, `"name": "lambda-arm64"`, `"unit": "GB-seconds"`, `"free_tier_orders": 266666.6666666`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}
