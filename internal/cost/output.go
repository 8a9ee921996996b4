package cost

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"flashsale/internal/textout"
)

// WriteText writes e for people: each design's line items, total and order
// store (its writes and reads per order, its cost per 1,000 orders and a
// month), then the conclusions (free tier, cheapest design, what the order
// store adds, break-even volumes).
func WriteText(w io.Writer, e *Estimate) error {
	ew := &textout.ErrWriter{W: w}
	p := e.Params
	freeTier := "on"
	if !p.FreeTierOn {
		freeTier = "off"
	}
	fmt.Fprintf(ew, "Monthly cost of %s orders/month\n", count(p.Orders))
	fmt.Fprintf(ew, "Prices: %s (each is a flag); free tier %s; %g hours a month.\n", PriceSource, freeTier, p.Hours)
	for _, d := range e.Designs {
		fmt.Fprintf(ew, "\n%s\n", d.Title)
		rows := [][]string{{"ITEM", "QUANTITY", "", "FREE TIER", "PRICE", "COST"}}
		for _, it := range d.Items {
			name := it.Name
			if it.Common {
				name += " (common)"
			}
			free := "-"
			if it.Free > 0 {
				free = count(it.Free)
			}
			rows = append(rows, []string{name, count(it.Quantity), it.Unit, free, it.Price, money(it.Cost)})
		}
		rows = append(rows, []string{"Total", "", "", "", "", money(d.Total)})
		writeTable(ew, rows, []bool{false, true, false, true, false, true})
		fmt.Fprintf(ew, "  %s\n", storeLine(d.Store))
	}

	fmt.Fprintln(ew)
	fmt.Fprintln(ew, "Conclusions")
	arm, x86, svc := e.Design(DesignLambdaARM64), e.Design(DesignLambdaX86), e.Design(DesignService)
	lambdaLine := func(name string) *LineItem {
		for i, it := range arm.Items {
			if it.Name == name {
				return &arm.Items[i]
			}
		}
		return nil
	}
	compute := lambdaLine("Lambda compute")
	limit := fmt.Sprintf("%d MB x %v", p.MemoryMB, p.Duration)
	switch {
	case !p.FreeTierOn:
		fmt.Fprintf(ew, "  Free tier off: every Lambda request and GB-second is billed (on, it would cover %s orders/month at %s).\n",
			count(math.Min(p.Free.LambdaRequests, p.Free.LambdaGBSeconds/p.GBSecondsPerOrder())), limit)
	case e.InsideFreeTier:
		fmt.Fprintf(ew, "  %s orders/month are inside the Lambda free tier, which covers up to %s orders/month at %s.\n",
			count(p.Orders), count(e.FreeTierOrders), limit)
	default:
		fmt.Fprintf(ew, "  %s orders/month are past the Lambda free tier, which covers up to %s orders/month at %s: %s of %s GB-seconds are billed.\n",
			count(p.Orders), count(e.FreeTierOrders), limit, count(compute.Quantity-compute.Free), count(compute.Quantity))
	}
	fmt.Fprintf(ew, "  Lambda arm64 %s, Lambda x86_64 %s, worker service %s a month: ", money(arm.Total), money(x86.Total), money(svc.Total))
	switch best := min(arm.Total, x86.Total); {
	case best < svc.Total:
		fmt.Fprintf(ew, "Lambda saves %s a month.\n", money(svc.Total-best))
	case best > svc.Total:
		fmt.Fprintf(ew, "the worker service saves %s a month.\n", money(best-svc.Total))
	default:
		fmt.Fprintln(ew, "they cost the same.")
	}
	fmt.Fprintf(ew, "  The worker service itself (Fargate and SQS) costs %s a month at this volume (the study: ~$17).\n", money(svc.Own))
	fmt.Fprintf(ew, "  %s\n", capacityLine(e))
	if p.Orders > e.CapacityOrders {
		fmt.Fprintf(ew, "  %s orders/month are more than the worker service can pay: it needs more tasks or workers than this bill has (--tasks, --task-profile, --workers-per-task).\n", count(p.Orders))
	}
	if svc.Store == arm.Store && svc.Store == x86.Store {
		fmt.Fprintf(ew, "  The order store (exactly-once) adds %s a month to every design, %s per 1,000 orders; it does not move the break-even.\n",
			money(svc.Store.Monthly), perThousand(svc.Store.PerThousandOrders))
	}
	for _, be := range e.BreakEven {
		arch := strings.TrimPrefix(be.Design, "lambda-")
		switch {
		case be.Orders == nil:
			fmt.Fprintf(ew, "  Break-even, Lambda %s: none; it costs less than the worker service at every volume.\n", arch)
		case *be.Orders == 0:
			fmt.Fprintf(ew, "  Break-even, Lambda %s: none; the worker service costs less at every volume.\n", arch)
		default:
			fmt.Fprintf(ew, "  Break-even, Lambda %s: %s orders/month (%.2f orders/s on average); below it Lambda costs less.\n",
				arch, count(*be.Orders), *be.OrdersPerSecond)
		}
	}
	for _, n := range e.Notes {
		fmt.Fprintf(ew, "  Note: %s\n", n)
	}
	writeCurve(ew, e)
	return ew.Err
}

// capacityLine says how many task-hours the worker service runs and what
// it can pay.
func capacityLine(e *Estimate) string {
	p := e.Params
	workers := fmt.Sprintf("%s per task and %v a payment", plural(float64(p.WorkersPerTask), "worker"), p.Duration)
	if p.TaskProfile == nil {
		return fmt.Sprintf("The worker service runs %s task-hours a month (%s always on); at %s it pays at most %.2f orders/s, %s orders/month.",
			count(e.TaskHours), plural(float64(p.Tasks), "task"), workers, e.PeakOrdersPerSecond, count(e.CapacityOrders))
	}
	return fmt.Sprintf("The worker service runs %s task-hours a month (%s a day: %s on average, %d at the peak); at %s it pays at most %.2f orders/s at the peak, %s orders/month.",
		count(e.TaskHours), p.TaskProfile, plural(e.AverageTasks, "task"), p.PeakTasks(), workers, e.PeakOrdersPerSecond, count(e.CapacityOrders))
}

// markText says what a marked point of the curve is.
var markText = map[string]string{
	MarkOrders:         "--orders",
	MarkFreeTierEnd:    "Lambda free tier used up",
	MarkBreakEvenARM64: "break-even, Lambda arm64",
	MarkBreakEvenX86:   "break-even, Lambda x86_64",
	MarkCapacity:       "the service's capacity",
	MarkOverCapacity:   "past the service's capacity",
}

// writeCurve writes the curve: every design's total by volume.
func writeCurve(w io.Writer, e *Estimate) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Curve: each design's monthly total by volume, the order store included (volumes: --curve)")
	fmt.Fprintln(w, "  The worker service as sized above at every volume: move it with --tasks or --task-profile, --task-vcpu, --task-memory, --task-arch; its capacity with --workers-per-task.")
	rows := [][]string{{"ORDERS/MONTH", "ORDERS/S", "LAMBDA ARM64", "LAMBDA X86_64", "WORKER SERVICE", "CHEAPER", "NOTE"}}
	for _, pt := range e.Curve {
		cheaper := "same"
		switch pt.Cheaper {
		case CheaperLambda:
			cheaper = "Lambda by " + money(pt.Saving)
		case CheaperService:
			cheaper = "service by " + money(pt.Saving)
		}
		var notes []string
		for _, m := range pt.Marks {
			notes = append(notes, markText[m])
		}
		rows = append(rows, []string{count(pt.Orders), count(pt.OrdersPerSecond), money(pt.LambdaARM64), money(pt.LambdaX86), money(pt.Service), cheaper, strings.Join(notes, "; ")})
	}
	writeTable(w, rows, []bool{true, true, true, true, true, false, false})
}

// storeLine says what the order store costs in a design.
func storeLine(s StoreCost) string {
	return fmt.Sprintf("Order store (exactly-once): %s and %s per order (%s WRU, %s RRU), %s per 1,000 orders, %s a month.",
		plural(s.WritesPerOrder, "write"), plural(s.ReadsPerOrder, "read"), perOrder(s.WriteUnitsPerOrder), perOrder(s.ReadUnitsPerOrder),
		perThousand(s.PerThousandOrders), money(s.Monthly))
}

// perOrder formats a count per order to at most two decimals: 3, 3.11.
func perOrder(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// plural formats v things per order: "1 read", "3 writes", "0.5 reads".
func plural(v float64, thing string) string {
	if s := perOrder(v); s != "1" {
		return s + " " + thing + "s"
	}
	return "1 " + thing
}

// perThousand formats the cost of 1,000 orders, small as it is: to a
// hundredth of a cent below $1, to the cent above.
func perThousand(v float64) string {
	if v < 1 {
		return "$" + strconv.FormatFloat(v, 'f', 4, 64)
	}
	return money(v)
}

// writeTable writes rows in columns two spaces apart, indented by two,
// right-aligning the columns marked in right.
func writeTable(w io.Writer, rows [][]string, right []bool) {
	widths := make([]int, len(right))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-len(c))
			if right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// count formats v with thousands separators, rounded to a whole number, or
// when it has a fraction to two significant digits below 1 (0.0011) and to
// one decimal below 100.
func count(v float64) string {
	if v > 0 && v < 1 {
		digits := min(1-int(math.Floor(math.Log10(v))), 9)
		s := strings.TrimRight(strconv.FormatFloat(v, 'f', digits, 64), "0")
		return strings.TrimSuffix(s, ".")
	}
	if v < 100 && v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// money formats USD to the cent, or to a tenth of a cent below a cent.
func money(v float64) string {
	if v > 0 && v < 0.005 {
		return "$" + strconv.FormatFloat(v, 'f', 4, 64)
	}
	return "$" + strconv.FormatFloat(v, 'f', 2, 64)
}
