package cost

import (
	"math"
	"slices"
)

// MaxCurveOrders is the most volumes Params.CurveOrders may hold.
const MaxCurveOrders = 50

// Marks of the points of a curve that are more than a round volume.
const (
	MarkOrders          = "orders"                          // Params.Orders, the volume of the bill
	MarkFreeTierEnd     = "free-tier-end"                   // where the Lambda free tier is used up
	MarkBreakEvenARM64  = "break-even-" + DesignLambdaARM64 // where Lambda arm64 costs as much as the service
	MarkBreakEvenX86    = "break-even-" + DesignLambdaX86   // the same for Lambda x86_64
	MarkCapacity        = "service-capacity"                // the most the service can pay (Estimate.CapacityOrders)
	MarkOverCapacity    = "over-capacity"                   // more than the service can pay: its bill would need more tasks
	curveFirstDecade    = 1e4
	curveLastDecade     = 1e8
	curveFurthestDecade = 1e12
)

// Which design costs less at a point of the curve: the cheaper Lambda or
// the service, or neither (the same to the cent).
const (
	CheaperLambda  = "lambda"
	CheaperService = "service"
	CheaperEqual   = "equal"
)

// CurvePoint is every design's monthly total at one volume.
type CurvePoint struct {
	Orders          float64 `json:"orders"`            // orders a month
	OrdersPerSecond float64 `json:"orders_per_second"` // Orders spread evenly over the month
	// LambdaARM64, LambdaX86 and Service are the designs' totals, USD a
	// month, the order store included.
	LambdaARM64 float64 `json:"lambda_arm64"`
	LambdaX86   float64 `json:"lambda_x86_64"` // see LambdaARM64
	Service     float64 `json:"service"`       // see LambdaARM64
	// Cheaper is CheaperLambda when the cheaper Lambda design costs less
	// than the service, CheaperService when the service does, CheaperEqual
	// when they cost the same to the cent; Saving is by how much, USD a
	// month.
	Cheaper string  `json:"cheaper"`
	Saving  float64 `json:"saving"` // see Cheaper
	// Marks say what the point is besides a round volume (Mark...), in
	// that order.
	Marks []string `json:"marks,omitempty"`
}

// curve prices every design over Params.CurveOrders (or decades from
// 10,000 to 100M orders a month, on to the first past the furthest marked
// point),
// with the marked points among them: the bill's volume, the end of the
// Lambda free tier, the break-evens and the service's capacity.
func curve(p Params, e *Estimate) []CurvePoint {
	type mark struct {
		orders float64
		name   string
	}
	var marked []mark
	add := func(n float64, name string) {
		if !math.IsNaN(n) && !math.IsInf(n, 0) && n >= 0 {
			marked = append(marked, mark{n, name})
		}
	}
	add(p.Orders, MarkOrders)
	if p.FreeTierOn {
		add(e.FreeTierOrders, MarkFreeTierEnd)
	}
	for _, be := range e.BreakEven {
		if be.Orders != nil && *be.Orders > 0 {
			add(*be.Orders, "break-even-"+be.Design)
		}
	}
	if e.CapacityOrders > 0 {
		add(e.CapacityOrders, MarkCapacity)
	}

	volumes := slices.Clone(p.CurveOrders)
	if volumes == nil {
		furthest := 0.0
		for _, m := range marked {
			furthest = max(furthest, m.orders)
		}
		for n := curveFirstDecade; ; n *= 10 {
			volumes = append(volumes, n)
			if n >= curveLastDecade && n >= furthest || n >= curveFurthestDecade {
				break
			}
		}
	}
	for _, m := range marked {
		volumes = append(volumes, m.orders)
	}
	slices.Sort(volumes)
	volumes = slices.Compact(volumes)

	points := make([]CurvePoint, 0, len(volumes))
	for _, n := range volumes {
		pt := CurvePoint{Orders: n, OrdersPerSecond: n / (p.Hours * 3600)}
		for _, d := range designs(p, n) {
			switch d.Name {
			case DesignLambdaARM64:
				pt.LambdaARM64 = d.Total
			case DesignLambdaX86:
				pt.LambdaX86 = d.Total
			case DesignService:
				pt.Service = d.Total
			}
		}
		lambda := min(pt.LambdaARM64, pt.LambdaX86)
		switch {
		case math.Round(lambda*100) == math.Round(pt.Service*100):
			pt.Cheaper = CheaperEqual
		case lambda < pt.Service:
			pt.Cheaper, pt.Saving = CheaperLambda, pt.Service-lambda
		default:
			pt.Cheaper, pt.Saving = CheaperService, lambda-pt.Service
		}
		for _, m := range marked {
			if m.orders == n {
				pt.Marks = append(pt.Marks, m.name)
			}
		}
		if n > e.CapacityOrders {
			pt.Marks = append(pt.Marks, MarkOverCapacity)
		}
		points = append(points, pt)
	}
	return points
}
