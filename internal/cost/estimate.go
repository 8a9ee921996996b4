package cost

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Design names.
const (
	DesignLambdaARM64 = "lambda-arm64"
	DesignLambdaX86   = "lambda-x86_64"
	DesignService     = "service"
)

// LineItem is one line of a design's monthly bill.
type LineItem struct {
	Name string `json:"name"` // what is billed
	// Common marks the items every design pays alike (the API and the
	// topic in front of the processor, and the order store).
	Common bool `json:"common,omitempty"`
	// Quantity is the month's usage in Unit; Free the part of it the free
	// tier covers.
	Quantity float64 `json:"quantity"`
	Unit     string  `json:"unit"` // see Quantity
	Free     float64 `json:"free"` // see Quantity
	// UnitPrice is the price of one Unit; Price says it as AWS does.
	UnitPrice float64 `json:"unit_price"`
	Price     string  `json:"price"` // see UnitPrice
	// Cost is (Quantity - Free) x UnitPrice, in USD.
	Cost float64 `json:"cost"`
}

// Design is the bill of one design.
type Design struct {
	Name  string     `json:"name"`  // DesignLambdaARM64, DesignLambdaX86 or DesignService
	Title string     `json:"title"` // the design and its size, for people
	Items []LineItem `json:"items"` // its line items
	Total float64    `json:"total"` // the sum of their costs, USD a month
	// Own is the total of the items not marked Common: what the design's
	// processor itself costs.
	Own float64 `json:"own"`
	// Store is what the order store costs in this design.
	Store StoreCost `json:"store"`
}

// StoreCost is the order store's share of a design's bill: what recording
// every order for exactly-once payment costs.
type StoreCost struct {
	// WritesPerOrder is the conditional writes of one order, duplicates
	// included; ReadsPerOrder its strongly consistent status reads.
	WritesPerOrder float64 `json:"writes_per_order"`
	ReadsPerOrder  float64 `json:"reads_per_order"` // see WritesPerOrder
	// WriteUnitsPerOrder and ReadUnitsPerOrder are the request units they
	// consume.
	WriteUnitsPerOrder float64 `json:"write_units_per_order"`
	ReadUnitsPerOrder  float64 `json:"read_units_per_order"` // see WriteUnitsPerOrder
	// PerThousandOrders is what the writes and reads of 1,000 orders cost,
	// USD (on-demand requests have no free tier). Storage, billed by the
	// month and mostly inside the free tier, is left to Monthly.
	PerThousandOrders float64 `json:"per_thousand_orders"`
	// Monthly is the month's cost of the store's line items (writes, reads,
	// storage), USD, the free tier applied as in the rest of the bill.
	Monthly float64 `json:"monthly"`
}

// BreakEven is the volume at which a Lambda design costs as much as the
// worker service.
type BreakEven struct {
	Design string `json:"design"` // the Lambda design
	// Orders is that volume in orders a month; below it the Lambda design
	// costs less. Nil when the Lambda design costs less at every volume;
	// 0 when it never does.
	Orders *float64 `json:"orders"`
	// OrdersPerSecond is Orders spread evenly over the month.
	OrdersPerSecond *float64 `json:"orders_per_second,omitempty"`
}

// Estimate is the monthly bill of every design at one volume.
type Estimate struct {
	Params  Params   `json:"params"`  // what was estimated
	Designs []Design `json:"designs"` // the bill of each design
	// FreeTierOrders is how many orders a month the Lambda free tier
	// covers; InsideFreeTier whether Params.Orders is within it.
	FreeTierOrders float64     `json:"free_tier_orders"`
	InsideFreeTier bool        `json:"inside_free_tier"` // see FreeTierOrders
	BreakEven      []BreakEven `json:"break_even"`       // one per Lambda design
	// TaskHours is the worker service's task-hours in the month
	// (Params.TaskHours); AverageTasks the tasks running on average.
	TaskHours    float64 `json:"task_hours"`
	AverageTasks float64 `json:"average_tasks"` // see TaskHours
	// CapacityOrders is the most orders a month the service can pay
	// (Params.CapacityOrders); PeakOrdersPerSecond what it pays a second
	// at its most tasks.
	CapacityOrders      float64 `json:"service_capacity_orders"`
	PeakOrdersPerSecond float64 `json:"service_peak_orders_per_second"` // see CapacityOrders
	// Curve is every design's total over a range of volumes, with the
	// break-evens among them: the bills as a curve.
	Curve []CurvePoint `json:"curve"`
	// Notes are caveats about the parameters.
	Notes []string `json:"notes,omitempty"`
}

// Design returns the design named name, or nil.
func (e *Estimate) Design(name string) *Design {
	for i := range e.Designs {
		if e.Designs[i].Name == name {
			return &e.Designs[i]
		}
	}
	return nil
}

// Compute estimates every design's monthly bill for p.Orders orders.
func Compute(p Params) (*Estimate, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("cost: %w", err)
	}
	e := &Estimate{
		Params:         p,
		Designs:        designs(p, p.Orders),
		FreeTierOrders: p.FreeTierOrders(),
	}
	e.InsideFreeTier = p.FreeTierOn && p.Orders <= e.FreeTierOrders
	for _, name := range []string{DesignLambdaARM64, DesignLambdaX86} {
		e.BreakEven = append(e.BreakEven, breakEven(p, name))
	}
	e.TaskHours, e.AverageTasks = p.TaskHours(), p.TaskHours()/p.Hours
	e.CapacityOrders, e.PeakOrdersPerSecond = p.CapacityOrders(), p.PeakOrdersPerSecond()
	e.Curve = curve(p, e)
	if !FargateSizeValid(p.TaskVCPU, p.TaskMemoryGB) {
		e.Notes = append(e.Notes, fmt.Sprintf("Fargate has no task of %g vCPU and %g GB; the estimate prices it anyway.", p.TaskVCPU, p.TaskMemoryGB))
	}
	return e, nil
}

// designs prices every design at n orders a month.
func designs(p Params, n float64) []Design {
	pr := p.Prices
	free := func(v float64) float64 {
		if p.FreeTierOn {
			return v
		}
		return 0
	}
	common := []LineItem{
		item("HTTP API requests", n, "requests", 0, pr.HTTPAPIRequestsPerMillion/1e6, "$"+usd(pr.HTTPAPIRequestsPerMillion)+" per 1M requests"),
		item("SNS publishes", n, "publishes", free(p.Free.SNSPublishes), pr.SNSPublishesPerMillion/1e6, "$"+usd(pr.SNSPublishesPerMillion)+" per 1M publishes"),
	}
	st := p.Store
	storeItems := []LineItem{
		item("DynamoDB writes", n*st.WriteUnitsPerOrder(), "WRU", 0, pr.DynamoDBWritesPerMillion/1e6, "$"+usd(pr.DynamoDBWritesPerMillion)+" per 1M WRU"),
		item("DynamoDB reads", n*st.ReadUnitsPerOrder(), "RRU", 0, pr.DynamoDBReadsPerMillion/1e6, "$"+usd(pr.DynamoDBReadsPerMillion)+" per 1M RRU"),
		item("DynamoDB storage", n*st.GBMonthsPerOrder(p.Hours), "GB-months", free(p.Free.DynamoDBStorageGB), pr.DynamoDBStorageGBMonth, "$"+usd(pr.DynamoDBStorageGBMonth)+" per GB-month"),
	}
	store := StoreCost{
		WritesPerOrder: st.WritesPerOrder(), ReadsPerOrder: st.StatusReads,
		WriteUnitsPerOrder: st.WriteUnitsPerOrder(), ReadUnitsPerOrder: st.ReadUnitsPerOrder(),
		PerThousandOrders: 1000 * (st.WriteUnitsPerOrder()*pr.DynamoDBWritesPerMillion + st.ReadUnitsPerOrder()*pr.DynamoDBReadsPerMillion) / 1e6,
	}
	for i := range storeItems {
		storeItems[i].Common = true
		store.Monthly += storeItems[i].Cost
	}
	for i := range common {
		common[i].Common = true
	}
	lambda := func(name, arch string, gbPrice float64) Design {
		return newDesign(name, fmt.Sprintf("Processor Lambda, %s: %d MB x %v per order", arch, p.MemoryMB, p.Duration), append(slices.Clone(common),
			item("Lambda requests", n, "requests", free(p.Free.LambdaRequests), pr.LambdaRequestsPerMillion/1e6, "$"+usd(pr.LambdaRequestsPerMillion)+" per 1M requests"),
			item("Lambda compute", n*p.GBSecondsPerOrder(), "GB-seconds", free(p.Free.LambdaGBSeconds), gbPrice, "$"+usd(gbPrice)+" per GB-second"),
		), storeItems, store)
	}

	vcpuPrice, gbPrice := pr.FargateVCPUHourX86, pr.FargateGBHourX86
	if p.TaskArch == ARM64 {
		vcpuPrice, gbPrice = pr.FargateVCPUHourARM64, pr.FargateGBHourARM64
	}
	taskHours := p.TaskHours()
	batches := n / float64(p.SQSBatch)
	idlePolls := p.idlePolls()
	serviceItems := append(slices.Clone(common),
		item("SQS requests (send, receive, delete)", n+batches+idlePolls+batches, "requests", free(p.Free.SQSRequests), pr.SQSRequestsPerMillion/1e6, "$"+usd(pr.SQSRequestsPerMillion)+" per 1M requests"),
		item("Fargate vCPU", taskHours*p.TaskVCPU, "vCPU-hours", 0, vcpuPrice, "$"+usd(vcpuPrice)+" per vCPU-hour"),
		item("Fargate memory", taskHours*p.TaskMemoryGB, "GB-hours", 0, gbPrice, "$"+usd(gbPrice)+" per GB-hour"),
	)
	if p.PublicIP {
		serviceItems = append(serviceItems, item("Public IPv4", taskHours, "address-hours", 0, pr.PublicIPv4Hour, "$"+usd(pr.PublicIPv4Hour)+" per hour"))
	}
	title := fmt.Sprintf("Worker service on Fargate: %d x %g vCPU, %g GB, Linux/%s, %g h", p.Tasks, p.TaskVCPU, p.TaskMemoryGB, p.TaskArch, p.Hours)
	if p.TaskProfile != nil {
		title = fmt.Sprintf("Worker service on Fargate: %g vCPU, %g GB, Linux/%s tasks, %s a day (%s on average), %g h",
			p.TaskVCPU, p.TaskMemoryGB, p.TaskArch, p.TaskProfile, plural(p.TaskProfile.AverageTasks(), "task"), p.Hours)
	}
	service := newDesign(DesignService, title, serviceItems, storeItems, store)

	return []Design{
		lambda(DesignLambdaARM64, ARM64, pr.LambdaGBSecondARM64),
		lambda(DesignLambdaX86, X86_64, pr.LambdaGBSecondX86),
		service,
	}
}

// idlePolls is the service's empty long polls in the month: each task's
// Pollers, one per PollWait, all its hours.
func (p Params) idlePolls() float64 {
	return float64(p.Pollers) * p.TaskHours() * 3600 / p.PollWait.Seconds()
}

// usd formats a unit price with all its digits, at least two decimals and
// no exponent: 0.5 as 0.50, 0.0000133334 as is.
func usd(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	return whole + "." + frac
}

func item(name string, quantity float64, unit string, free, unitPrice float64, price string) LineItem {
	free = math.Min(free, quantity)
	return LineItem{Name: name, Quantity: quantity, Unit: unit, Free: free, UnitPrice: unitPrice, Price: price, Cost: (quantity - free) * unitPrice}
}

// newDesign makes the design of items, then storeItems (the order store's,
// last), and their totals.
func newDesign(name, title string, items, storeItems []LineItem, store StoreCost) Design {
	d := Design{Name: name, Title: title, Items: append(slices.Clone(items), storeItems...), Store: store}
	for _, it := range d.Items {
		d.Total += it.Cost
		if !it.Common {
			d.Own += it.Cost
		}
	}
	return d
}

// totalAt is the monthly total of design name at n orders.
func totalAt(p Params, name string, n float64) float64 {
	for _, d := range designs(p, n) {
		if d.Name == name {
			return d.Total
		}
	}
	panic("cost: no design " + name)
}

// breakEven finds the smallest volume at which the Lambda design costs as
// much as the service. Both bills are piecewise linear in the volume, with
// kinks where a free-tier allowance runs out: between kinks their
// difference is linear and its zero is solved exactly.
func breakEven(p Params, name string) BreakEven {
	be := BreakEven{Design: name}
	diff := func(n float64) float64 { return totalAt(p, name, n) - totalAt(p, DesignService, n) }

	points := []float64{0}
	if p.FreeTierOn {
		batchesPerOrder := 2 / float64(p.SQSBatch)
		idlePolls := p.idlePolls()
		points = append(points,
			p.Free.LambdaRequests,
			p.Free.LambdaGBSeconds/p.GBSecondsPerOrder(),
			p.Free.SNSPublishes,
			(p.Free.SQSRequests-idlePolls)/(1+batchesPerOrder),
		)
	}
	points = slices.DeleteFunc(points, func(x float64) bool { return x < 0 || math.IsNaN(x) || math.IsInf(x, 0) })
	slices.Sort(points)
	points = slices.Compact(points)

	found := func(n float64) BreakEven {
		be.Orders = &n
		be.OrdersPerSecond = new(n / (p.Hours * 3600))
		return be
	}
	if diff(0) >= 0 {
		return found(0)
	}
	for i, x0 := range points {
		d0 := diff(x0)
		if d0 >= 0 {
			return found(x0)
		}
		// The next kink, or a step along the last (unbounded) segment.
		x1 := x0 + 1e6
		last := i == len(points)-1
		if !last {
			x1 = points[i+1]
		}
		d1 := diff(x1)
		if d1 > d0 && (last || d1 >= 0) {
			return found(x0 + -d0*(x1-x0)/(d1-d0))
		}
	}
	return be // the Lambda design is cheaper at every volume
}
