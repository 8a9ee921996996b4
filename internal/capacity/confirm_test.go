package capacity

import (
	"math"
	"testing"
	"time"
)

func TestConfirmationTime(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		burst Burst
		q     float64
		want  time.Duration
	}{
		// 51/s for 60 s, one worker at 3 s: backlog 3,060 − 20 = 3,040,
		// drained in 9,120 s.
		{"study, 1 worker, first", Burst{51, time.Minute, 3 * s, 1}, 0, 3 * s},
		{"study, 1 worker, median", Burst{51, time.Minute, 3 * s, 1}, 0.5, 3*s + 4560*s},
		{"study, 1 worker, last", Burst{51, time.Minute, 3 * s, 1}, 1, 3*s + 9120*s},
		// 100 workers pay 33.3/s: ρ = 1.53, the last order waits 0.53 × 60 s.
		{"study, 100 workers, p95", Burst{51, time.Minute, 3 * s, 100}, 0.95, 3*s + time.Duration(0.95*31.8*float64(s))},
		{"no backlog", Burst{10, time.Minute, 3 * s, 100}, 0.99, 3 * s},
		{"q above 1 is the last", Burst{51, time.Minute, 3 * s, 1}, 2, 3*s + 9120*s},
		{"q below 0 is the first", Burst{51, time.Minute, 3 * s, 1}, -1, 3 * s},
		{"NaN is the first", Burst{51, time.Minute, 3 * s, 1}, math.NaN(), 3 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanBurst(tt.burst)
			if err != nil {
				t.Fatal(err)
			}
			got := p.ConfirmationTime(tt.q)
			if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("ConfirmationTime(%v) = %v, want %v", tt.q, got, tt.want)
			}
			// The last order is confirmed one payment after the queue drains.
			if last := p.ConfirmationTime(1); last != p.PaymentDelay+p.DrainTime {
				t.Errorf("last %v, want payment + drain %v", last, p.PaymentDelay+p.DrainTime)
			}
			if p.MeanConfirmationTime() != p.ConfirmationTime(0.5) {
				t.Errorf("mean %v != median %v", p.MeanConfirmationTime(), p.ConfirmationTime(0.5))
			}
		})
	}
}
