package cost_test

import (
	"bytes"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"flashsale/internal/cost"
)

func profile(t *testing.T, s string) cost.Profile {
	t.Helper()
	p, err := cost.ParseProfile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServiceTasks prices the worker service's Fargate tasks, always on or
// over a day's profile, against the per-second prices: Fargate bills a
// task's vCPU and memory by the second (the hourly price / 3,600).
func TestCostServiceTasks(t *testing.T) {
	// Per-second prices, arm64 and x86_64 (us-east-1, 2026-11-25).
	const (
		armVCPUSecond, armGBSecond = 0.03238 / 3600, 0.00356 / 3600
		x86VCPUSecond, x86GBSecond = 0.04048 / 3600, 0.004445 / 3600
		month                      = 730 * 3600 // seconds
	)
	tests := []struct {
		name      string
		edit      func(*cost.Params)
		taskHours float64
		fargate   float64 // vCPU and memory, USD a month
		ipv4      float64 // USD a month
		rounded   float64 // fargate + ipv4 to the cent
	}{{
		name:      "2 tasks of 0.25 vCPU, 0.5 GB, arm64, 730 h",
		edit:      func(p *cost.Params) { p.Tasks, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch = 2, 0.25, 0.5, cost.ARM64 },
		taskHours: 1460,
		fargate:   2 * month * (0.25*armVCPUSecond + 0.5*armGBSecond),
		rounded:   14.42,
	}, {
		name: "the same as a profile, 2@24h",
		edit: func(p *cost.Params) {
			p.TaskProfile, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch = profile(t, "2@24h"), 0.25, 0.5, cost.ARM64
		},
		taskHours: 1460,
		fargate:   2 * month * (0.25*armVCPUSecond + 0.5*armGBSecond),
		rounded:   14.42,
	}, {
		name: "the same task-hours, 4 tasks half the day",
		edit: func(p *cost.Params) {
			p.TaskProfile, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch = profile(t, "4@12h,0"), 0.25, 0.5, cost.ARM64
		},
		taskHours: 1460,
		fargate:   2 * month * (0.25*armVCPUSecond + 0.5*armGBSecond),
		rounded:   14.42,
	}, {
		name:      "the study's task, one always on",
		taskHours: 730,
		fargate:   month * (0.5*x86VCPUSecond + 1*x86GBSecond),
		rounded:   18.02,
	}, {
		// 2 x 20 + 10 x 3 + 40 x 1 = 110 task-hours a day, 4.58 tasks on
		// average, over 730 / 24 days.
		name:      "the study's task, 2@20h,10@3h,40@1h",
		edit:      func(p *cost.Params) { p.TaskProfile = profile(t, "2@20h,10@3h,40@1h") },
		taskHours: 110.0 / 24 * 730,
		fargate:   110.0 / 24 * month * (0.5*x86VCPUSecond + 1*x86GBSecond),
		rounded:   82.59,
	}, {
		name: "0.25 vCPU, 0.5 GB arm64, 2@20h,10@3h,40@1h, public IPs",
		edit: func(p *cost.Params) {
			p.TaskProfile, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch, p.PublicIP = profile(t, "40@1h,10@3h,2"), 0.25, 0.5, cost.ARM64, true
		},
		taskHours: 110.0 / 24 * 730,
		fargate:   110.0 / 24 * month * (0.25*armVCPUSecond + 0.5*armGBSecond),
		ipv4:      110.0 / 24 * 730 * 0.005,
		rounded:   49.77,
	}, {
		name:      "a profile over a 30-day month",
		edit:      func(p *cost.Params) { p.TaskProfile, p.Hours = profile(t, "2@20h,10@3h,40@1h"), 720 },
		taskHours: 110 * 30,
		fargate:   110 * 30 * 3600 * (0.5*x86VCPUSecond + 1*x86GBSecond),
		rounded:   81.46,
	}, {
		name:      "a profile ignores --tasks",
		edit:      func(p *cost.Params) { p.TaskProfile, p.Tasks = profile(t, "1@24h"), 7 },
		taskHours: 730,
		fargate:   month * (0.5*x86VCPUSecond + 1*x86GBSecond),
		rounded:   18.02,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, 10_000, tt.edit)
			svc := e.Design(cost.DesignService)
			vcpu, mem := lineItem(t, svc, "Fargate vCPU"), lineItem(t, svc, "Fargate memory")
			approx(t, "task-hours", e.TaskHours, tt.taskHours, 1e-9)
			approx(t, "average tasks", e.AverageTasks, tt.taskHours/e.Params.Hours, 1e-12)
			approx(t, "vCPU-hours", vcpu.Quantity, tt.taskHours*e.Params.TaskVCPU, 1e-9)
			approx(t, "GB-hours", mem.Quantity, tt.taskHours*e.Params.TaskMemoryGB, 1e-9)
			approx(t, "Fargate", vcpu.Cost+mem.Cost, tt.fargate, 1e-9)
			var ipv4 float64
			if e.Params.PublicIP {
				ip := lineItem(t, svc, "Public IPv4")
				approx(t, "address-hours", ip.Quantity, tt.taskHours, 1e-9)
				ipv4 = ip.Cost
			}
			approx(t, "IPv4", ipv4, tt.ipv4, 1e-9)
			approx(t, "rounded", math.Round((vcpu.Cost+mem.Cost+ipv4)*100)/100, tt.rounded, 1e-9)
			// The SQS requests are free at this volume: the service's own
			// cost is its tasks'.
			approx(t, "service (Fargate and SQS)", svc.Own, tt.fargate+tt.ipv4, 1e-9)
		})
	}
}

// TestServiceIdlePolls: every task long-polls, so the empty receives
// follow the task-hours: 180 an hour per poller at a 20 s wait.
func TestCostServiceIdlePolls(t *testing.T) {
	tests := []struct {
		name string
		edit func(*cost.Params)
		want float64 // SQS requests at 0 orders
	}{
		{"one task", nil, 730 * 180},
		{"two tasks", func(p *cost.Params) { p.Tasks = 2 }, 2 * 730 * 180},
		{"two tasks, two pollers each", func(p *cost.Params) { p.Tasks, p.Pollers = 2, 2 }, 4 * 730 * 180},
		{"2@20h,10@3h,40@1h", func(p *cost.Params) { p.TaskProfile = profile(t, "2@20h,10@3h,40@1h") }, 110.0 / 24 * 730 * 180},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, 0, tt.edit)
			approx(t, "SQS requests", lineItem(t, e.Design(cost.DesignService), "SQS requests").Quantity, tt.want, 1e-6)
		})
	}
}

// TestServiceCapacity: each task's workers pay one order per --duration.
func TestCostServiceCapacity(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*cost.Params)
		orders   float64 // a month
		peakRate float64 // orders/s at the most tasks
	}{
		{"the study: one task, one worker, 3 s", nil, 730 * 3600 / 3.0, 1 / 3.0},
		{"two tasks of 20 workers", func(p *cost.Params) { p.Tasks, p.WorkersPerTask = 2, 20 }, 2 * 20 * 730 * 3600 / 3.0, 40 / 3.0},
		{"2@20h,10@3h,40@1h of 20 workers", func(p *cost.Params) { p.TaskProfile, p.WorkersPerTask = profile(t, "2@20h,10@3h,40@1h"), 20 },
			110.0 / 24 * 730 * 3600 * 20 / 3, 40 * 20 / 3.0},
		{"500 ms payments", func(p *cost.Params) { p.Duration = 500 * time.Millisecond }, 730 * 3600 * 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, 0, tt.edit)
			approx(t, "capacity", e.CapacityOrders, tt.orders, 1e-3)
			approx(t, "peak rate", e.PeakOrdersPerSecond, tt.peakRate, 1e-12)
		})
	}
	approx(t, "the study's capacity", estimate(t, 0, nil).CapacityOrders, 876_000, 1e-6)
	approx(t, "2@20h,10@3h,40@1h x 20", estimate(t, 0, func(p *cost.Params) {
		p.TaskProfile, p.WorkersPerTask = profile(t, "2@20h,10@3h,40@1h"), 20
	}).CapacityOrders, 80_300_000, 1e-3)
}

// TestServiceBreakEven: the break-even moves with the task-hours, and at it
// both bills are equal.
func TestCostServiceBreakEven(t *testing.T) {
	tests := []struct {
		name string
		edit func(*cost.Params)
		arm  float64 // orders a month, rounded
	}{
		{"the study's task", nil, 1_176_767},
		{"2@20h,10@3h,40@1h", func(p *cost.Params) { p.TaskProfile = profile(t, "2@20h,10@3h,40@1h") }, 4_460_736},
		{"2@20h,10@3h,40@1h of 0.25 vCPU, 0.5 GB arm64", func(p *cost.Params) {
			p.TaskProfile, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch = profile(t, "2@20h,10@3h,40@1h"), 0.25, 0.5, cost.ARM64
		}, 1_947_980},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, 0, tt.edit)
			be := e.BreakEven[0]
			if be.Design != cost.DesignLambdaARM64 || be.Orders == nil {
				t.Fatalf("break-even %+v", be)
			}
			approx(t, "arm64 break-even", math.Round(*be.Orders), tt.arm, 0)
			at := estimate(t, *be.Orders, tt.edit)
			approx(t, "totals at break-even", at.Design(cost.DesignLambdaARM64).Total, at.Design(cost.DesignService).Total, 1e-6)
		})
	}
}

func TestCostCurve(t *testing.T) {
	type row struct {
		orders  float64
		cheaper string
		marks   []string
	}
	tests := []struct {
		name string
		n    float64
		edit func(*cost.Params)
		want []row
	}{{
		name: "the study: one task, one worker",
		n:    10_000,
		want: []row{
			{10_000, cost.CheaperLambda, []string{cost.MarkOrders}},
			{100_000, cost.CheaperLambda, nil},
			{400_000 / 1.5, cost.CheaperLambda, []string{cost.MarkFreeTierEnd}},
			{876_000, cost.CheaperLambda, []string{cost.MarkCapacity}},
			{992_628, cost.CheaperLambda, []string{cost.MarkBreakEvenX86, cost.MarkOverCapacity}},
			{1_000_000, cost.CheaperLambda, []string{cost.MarkOverCapacity}},
			{1_176_767, cost.CheaperEqual, []string{cost.MarkBreakEvenARM64, cost.MarkOverCapacity}},
			{10_000_000, cost.CheaperService, []string{cost.MarkOverCapacity}},
			{100_000_000, cost.CheaperService, []string{cost.MarkOverCapacity}},
		},
	}, {
		name: "volumes of --curve, free tier off",
		n:    5_000_000,
		edit: func(p *cost.Params) {
			p.CurveOrders, p.FreeTierOn, p.WorkersPerTask = []float64{0, 5_000_000, 1e9}, false, 20
		},
		want: []row{
			{0, cost.CheaperLambda, nil},
			{731_091, cost.CheaperLambda, []string{cost.MarkBreakEvenX86}}, // arm64 still cheaper
			{916_456, cost.CheaperEqual, []string{cost.MarkBreakEvenARM64}},
			{5_000_000, cost.CheaperService, []string{cost.MarkOrders}},
			{17_520_000, cost.CheaperService, []string{cost.MarkCapacity}},
			{1e9, cost.CheaperService, []string{cost.MarkOverCapacity}},
		},
	}, {
		name: "decades past 1e8 to the capacity",
		n:    0,
		edit: func(p *cost.Params) { p.Tasks, p.WorkersPerTask = 40, 1000 },
		want: nil, // checked below
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimate(t, tt.n, tt.edit)
			if tt.want == nil {
				var orders []float64
				for _, pt := range e.Curve {
					orders = append(orders, pt.Orders)
				}
				if !slices.Contains(orders, 1e10) || orders[len(orders)-1] != 1e11 || orders[len(orders)-2] != e.CapacityOrders {
					t.Errorf("capacity %v: volumes %v, want decades to 1e11", e.CapacityOrders, orders)
				}
				return
			}
			if len(e.Curve) != len(tt.want) {
				t.Fatalf("%d points, want %d: %+v", len(e.Curve), len(tt.want), e.Curve)
			}
			for i, w := range tt.want {
				pt := e.Curve[i]
				approx(t, "orders", math.Round(pt.Orders), math.Round(w.orders), 0)
				if pt.Cheaper != w.cheaper || !slices.Equal(pt.Marks, w.marks) {
					t.Errorf("%v orders: cheaper %q marks %q, want %q %q", pt.Orders, pt.Cheaper, pt.Marks, w.cheaper, w.marks)
				}
				// Each point is the bill at its volume.
				at := estimate(t, pt.Orders, tt.edit)
				approx(t, "arm64", pt.LambdaARM64, at.Design(cost.DesignLambdaARM64).Total, 1e-9)
				approx(t, "x86_64", pt.LambdaX86, at.Design(cost.DesignLambdaX86).Total, 1e-9)
				approx(t, "service", pt.Service, at.Design(cost.DesignService).Total, 1e-9)
				approx(t, "orders/s", pt.OrdersPerSecond, pt.Orders/(730*3600), 1e-12)
				if want := math.Abs(pt.Service - min(pt.LambdaARM64, pt.LambdaX86)); pt.Cheaper != cost.CheaperEqual && math.Abs(pt.Saving-want) > 1e-9 {
					t.Errorf("%v orders: saving %v, want %v", pt.Orders, pt.Saving, want)
				}
			}
		})
	}
}

// TestWriteTextService: the capacity line, the over-capacity warning and
// the curve in the text output; a profile in the service's title.
func TestCostWriteTextService(t *testing.T) {
	tests := []struct {
		name   string
		orders float64
		edit   func(*cost.Params)
		want   []string
		not    []string
	}{{
		name:   "the study",
		orders: 10_000,
		want: []string{
			`(?m)^Worker service on Fargate: 1 x 0\.5 vCPU, 1 GB, Linux/x86_64, 730 h$`,
			`(?m)^  The worker service runs 730 task-hours a month \(1 task always on\); at 1 worker per task and 3s a payment it pays at most 0\.33 orders/s, 876,000 orders/month\.$`,
			`(?m)^Curve: each design's monthly total by volume, the order store included \(volumes: --curve\)$`,
			`(?m)^  ORDERS/MONTH  ORDERS/S  LAMBDA ARM64  LAMBDA X86_64  WORKER SERVICE  CHEAPER +NOTE$`,
			`(?m)^        10,000    0\.0038         \$0\.03          \$0\.03          \$18\.05  Lambda by \$18\.02 +--orders$`,
			`(?m)^     1,176,767      0\.45        \$21\.86         \$26\.41          \$21\.86  same +break-even, Lambda arm64; past the service's capacity$`,
			`(?m)^       876,000      0\.33 .* the service's capacity$`,
		},
		not: []string{`more than the worker service can pay`},
	}, {
		name:   "past the capacity",
		orders: 1_000_000,
		want:   []string{`(?m)^  1,000,000 orders/month are more than the worker service can pay: it needs more tasks or workers than this bill has \(--tasks, --task-profile, --workers-per-task\)\.$`},
	}, {
		name:   "a profile",
		orders: 300_000,
		edit: func(p *cost.Params) {
			p.TaskProfile, p.WorkersPerTask, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch = profile(t, "2@20h,10@3h,40@1h"), 20, 0.25, 0.5, cost.ARM64
		},
		want: []string{
			`(?m)^Worker service on Fargate: 0\.25 vCPU, 0\.5 GB, Linux/arm64 tasks, 2@20h,10@3h,40@1h a day \(4\.58 tasks on average\), 730 h$`,
			`(?m)^  Fargate vCPU +836  vCPU-hours +-  \$0\.03238 per vCPU-hour +\$27\.08$`,
			`(?m)^  The worker service runs 3,346 task-hours a month \(2@20h,10@3h,40@1h a day: 4\.58 tasks on average, 40 at the peak\); at 20 workers per task and 3s a payment it pays at most 266\.67 orders/s at the peak, 80,300,000 orders/month\.$`,
			`(?m)^     1,947,980      0\.74        \$40\.13         \$48\.54          \$40\.13  same +break-even, Lambda arm64$`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := cost.WriteText(&b, estimate(t, tt.orders, tt.edit)); err != nil {
				t.Fatal(err)
			}
			for _, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(b.String()) {
					t.Errorf("output does not match %s:\n%s", re, b.String())
				}
			}
			for _, s := range tt.not {
				if strings.Contains(b.String(), s) {
					t.Errorf("output has %q:\n%s", s, b.String())
				}
			}
		})
	}
}

func TestCostValidateService(t *testing.T) {
	tests := []struct {
		name string
		edit func(*cost.Params)
		want string
	}{
		{"no workers", func(p *cost.Params) { p.WorkersPerTask = 0 }, "workers per task 0 (--workers-per-task): must be at least 1"},
		{"profile short of a day", func(p *cost.Params) { p.TaskProfile = cost.Profile{{2, 20}, {3, 3}} }, "task profile 2@20h,3@3h (--task-profile): covers 23h of a day, must cover 24h"},
		{"profile of no task", func(p *cost.Params) { p.TaskProfile = cost.Profile{{0, 24}} }, "(--task-profile): no task at any hour"},
		{"profile with negative tasks", func(p *cost.Params) { p.TaskProfile = cost.Profile{{-1, 12}, {2, 12}} }, "span -1@12h must have 0 tasks or more"},
		{"profile with a span under a minute", func(p *cost.Params) { p.TaskProfile = cost.Profile{{1, 24 - 1.0/3600}, {2, 1.0 / 3600}} }, "span 2@1s must have 0 tasks or more for at least 1m0s"},
		{"profile with a NaN span", func(p *cost.Params) { p.TaskProfile = cost.Profile{{1, math.NaN()}} }, "(--task-profile)"},
		{"negative curve volume", func(p *cost.Params) { p.CurveOrders = []float64{1, -1} }, "curve volume -1 (--curve)"},
		{"too many curve volumes", func(p *cost.Params) { p.CurveOrders = make([]float64, 51) }, "51 curve volumes (--curve): at most 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cost.Defaults()
			tt.edit(&p)
			if _, err := cost.Compute(p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one about %q", err, tt.want)
			}
		})
	}
	// With a profile, --tasks is not checked.
	p := cost.Defaults()
	p.TaskProfile, p.Tasks = cost.Profile{{1, 24}}, 0
	if err := p.Validate(); err != nil {
		t.Errorf("profile with tasks 0: %v", err)
	}
}
