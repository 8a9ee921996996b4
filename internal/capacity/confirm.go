package capacity

import (
	"math"
	"time"
)

// ConfirmationTime is the fluid model's time from an order's acceptance
// (its 202) to the end of its payment, at the q-quantile (0 to 1) of the
// burst's orders: q = 0.5 is the median order, 1 the last.
//
// Orders are paid first in, first out. One accepted t after the start of
// the burst finds the backlog (λ − μN)·t ahead of it, which the pool clears
// at μN, so it waits (ρ − 1)·t before its payment starts and is confirmed
// S later. Arrivals are spread evenly over the burst, so the wait is
// spread evenly from 0 (the first order) to (ρ − 1)·T = DrainTime (the
// last): its q-quantile is q·DrainTime, and the confirmation time's is
// PaymentDelay + q·DrainTime. With ρ <= 1 the fluid model has no queue:
// every order is confirmed one PaymentDelay after it is accepted (a queue
// with random arrivals would make some wait even then). With the study's
// 51 orders/s for 60 s against one worker at 3 s: from 3 s to 3 s + 2 h 32
// min, the median order after 1 h 16 min.
func (p Plan) ConfirmationTime(q float64) time.Duration {
	if math.IsNaN(q) {
		q = 0
	}
	q = math.Max(0, math.Min(1, q))
	return p.PaymentDelay + seconds(q*p.DrainTime.Seconds())
}

// MeanConfirmationTime is the fluid model's mean time from acceptance to
// the end of the payment over the burst's orders: PaymentDelay +
// DrainTime/2, the same as its median (the wait is spread evenly).
func (p Plan) MeanConfirmationTime() time.Duration {
	return p.ConfirmationTime(0.5)
}
