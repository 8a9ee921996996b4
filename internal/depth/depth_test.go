package depth

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// clockSource reports a depth computed from the fake time since it was made.
type clockSource struct {
	start time.Time
	read  func(at time.Duration) (Reading, error)
	mu    sync.Mutex
	reads int
}

func newClockSource(read func(at time.Duration) (Reading, error)) *clockSource {
	return &clockSource{start: time.Now(), read: read}
}

func (c *clockSource) Read(ctx context.Context) (Reading, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.read(time.Since(c.start))
}

func (c *clockSource) Depth(ctx context.Context) (int, error) {
	r, err := c.Read(ctx)
	return r.Depth, err
}

// depthOnly hides Read, as an SQS adapter that offers only Depth.
type depthOnly struct{ src *clockSource }

func (d depthOnly) Depth(ctx context.Context) (int, error) { return d.src.Depth(ctx) }

// burst is a queue fed at 10/s for 5 s and paid at 5/s from the start:
// depth 5/s up to 25 at 5 s, then down by 5/s to 0 at 10 s.
func burst(at time.Duration) (Reading, error) {
	s := at.Seconds()
	depth := 5 * s
	if s > 5 {
		depth = max(0, 25-5*(s-5))
	}
	// Processed counts whole payments: (47 − 5) / (9.5 s − 1 s) = 4.94/s
	// between the first and the last non-empty readings.
	return Reading{Depth: int(depth + 0.5), Processed: int64(5 * s), InFlight: 1}, nil
}

// loadFor closes the returned channel after d of (fake) time.
func loadFor(d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		time.Sleep(d)
		close(done)
	}()
	return done
}

func TestSamplerBurst(t *testing.T) {
	tests := []struct {
		name      string
		source    func(*clockSource) any
		wantRate  bool
		wantReads int
	}{
		{"reader with counters", func(c *clockSource) any { return c }, true, 12},
		{"depth only (SQS-like)", func(c *clockSource) any { return depthOnly{c} }, false, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := newClockSource(burst)
				var seen []Sample
				s := &Sampler{Interval: time.Second, OnSample: func(x Sample) { seen = append(seen, x) }}
				switch v := tt.source(src).(type) {
				case *clockSource:
					s.Source = v
				case depthOnly:
					s.Source = v
				}
				// The load's end, off the 1 s grid, is read at once and
				// restarts the grid: readings at 0..5 s, 5.5 s, 6.5..10.5 s.
				tl, err := s.Run(context.Background(), loadFor(5500*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				if tl.Peak != 25 || tl.PeakAt != 5*time.Second || tl.LoadEnd != 5500*time.Millisecond {
					t.Errorf("peak %d at %v, load end %v; want 25 at 5 s, 5.5 s", tl.Peak, tl.PeakAt, tl.LoadEnd)
				}
				if !tl.Drained || tl.DrainedAt != 10500*time.Millisecond || tl.TimeToDrain() != 5*time.Second {
					t.Errorf("drained %v at %v (%v after the load); want at 10.5 s, 5 s after", tl.Drained, tl.DrainedAt, tl.TimeToDrain())
				}
				if len(tl.Samples) != tt.wantReads || len(seen) != len(tl.Samples) || tl.Samples[6].At != 5500*time.Millisecond {
					t.Errorf("%d samples (%d seen), want %d", len(tl.Samples), len(seen), tt.wantReads)
				}
				rate, ok := tl.ProcessingRate()
				if ok != tt.wantRate || (ok && (rate < 4.9 || rate > 5.1)) {
					t.Errorf("processing rate %v, %v; want 5/s: %v", rate, ok, tt.wantRate)
				}
			})
		})
	}
}

func TestSamplerDrainRules(t *testing.T) {
	tests := []struct {
		name      string
		sampler   Sampler
		read      func(at time.Duration) (Reading, error)
		loadEnd   time.Duration // < 0: no load (nil channel)
		wantAt    time.Duration
		wantReads int
	}{
		{
			name:    "empty before the load ends does not count",
			read:    func(time.Duration) (Reading, error) { return Reading{Processed: -1, InFlight: -1}, nil },
			loadEnd: 2500 * time.Millisecond, wantAt: 2500 * time.Millisecond, wantReads: 4, // 0, 1, 2 s, then at the load's end
		},
		{
			name:    "nil loadDone: the load is over, the first empty reading drains",
			read:    func(at time.Duration) (Reading, error) { return Reading{Depth: max(0, 3-int(at/time.Second))}, nil },
			loadEnd: -1, wantAt: 3 * time.Second, wantReads: 4,
		},
		{
			name:    "three empty readings in a row",
			sampler: Sampler{EmptyReadings: 3},
			read: func(at time.Duration) (Reading, error) {
				// 0 at 1 s (a blip), 4 at 2 s, then 0 from 3 s on.
				d := map[time.Duration]int{0: 5, time.Second: 0, 2 * time.Second: 4}[at]
				return Reading{Depth: d}, nil
			},
			loadEnd: -1, wantAt: 3 * time.Second, wantReads: 6,
		},
		{
			name:    "wait for payments in flight",
			sampler: Sampler{WaitForPayments: true},
			read: func(at time.Duration) (Reading, error) {
				return Reading{Depth: 0, InFlight: max(0, 2-int(at/time.Second))}, nil
			},
			loadEnd: -1, wantAt: 2 * time.Second, wantReads: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := tt.sampler
				s.Interval = time.Second
				s.Source = newClockSource(tt.read)
				var done <-chan struct{}
				if tt.loadEnd >= 0 {
					done = loadFor(tt.loadEnd)
				}
				tl, err := s.Run(context.Background(), done)
				if err != nil {
					t.Fatal(err)
				}
				if !tl.Drained || tl.DrainedAt != tt.wantAt || len(tl.Samples) != tt.wantReads {
					t.Errorf("drained %v at %v after %d readings; want at %v after %d", tl.Drained, tl.DrainedAt, len(tl.Samples), tt.wantAt, tt.wantReads)
				}
			})
		})
	}
}

func TestSamplerErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Two failed readings are tolerated.
		flaky := newClockSource(func(at time.Duration) (Reading, error) {
			if at < 2*time.Second {
				return Reading{}, errors.New("scrape failed")
			}
			return Reading{Depth: 0}, nil
		})
		tl, err := (&Sampler{Source: flaky, Interval: time.Second}).Run(context.Background(), nil)
		if err != nil || tl.Errors != 2 || !tl.Drained || tl.DrainedAt != 2*time.Second {
			t.Errorf("flaky: err %v, errors %d, drained %v at %v", err, tl.Errors, tl.Drained, tl.DrainedAt)
		}
		// A source that keeps failing ends the run.
		broken := newClockSource(func(time.Duration) (Reading, error) { return Reading{}, errors.New("down") })
		tl, err = (&Sampler{Source: broken, Interval: time.Second, MaxErrors: 3}).Run(context.Background(), nil)
		if !errors.Is(err, ErrSource) || tl.Errors != 3 || !strings.Contains(err.Error(), "down") {
			t.Errorf("broken: err %v, errors %d", err, tl.Errors)
		}
		// Ending ctx returns what was read.
		full := newClockSource(func(time.Duration) (Reading, error) { return Reading{Depth: 7}, nil })
		ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
		defer cancel()
		tl, err = (&Sampler{Source: full, Interval: time.Second}).Run(ctx, nil)
		if !errors.Is(err, context.DeadlineExceeded) || tl.Drained || len(tl.Samples) != 4 || tl.Peak != 7 {
			t.Errorf("cancelled: err %v, drained %v, %d samples, peak %d", err, tl.Drained, len(tl.Samples), tl.Peak)
		}
		if _, err := (&Sampler{}).Run(context.Background(), nil); err == nil {
			t.Error("a sampler without a source should fail")
		}
	})
}

func TestTimelineOutputs(t *testing.T) {
	var tl *Timeline
	synctest.Test(t, func(t *testing.T) {
		var err error
		tl, err = (&Sampler{Source: newClockSource(burst), Interval: time.Second}).Run(context.Background(), loadFor(5500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
	})
	var b strings.Builder
	if err := tl.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"peak 25 at 5.0 s", "empty 5.0 s after the load ended (at 5.5 s, drained at 10.5 s)", "processing rate 4.94 payments/s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary %q lacks %q", b.String(), want)
		}
	}
	name := filepath.Join(t.TempDir(), "depth.csv")
	if err := tl.WriteCSV(name); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(name)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(tl.Samples)+1 || lines[0] != "t_s,depth,processed,in_flight" || lines[6] != "5.000,25,25,1" {
		t.Errorf("csv:\n%s", data)
	}
	js, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Peak        int      `json:"peak"`
		TimeToDrain *float64 `json:"time_to_drain_s"`
		Rate        *float64 `json:"processing_rate"`
		Samples     []struct {
			Depth int `json:"depth"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(js, &got); err != nil || got.Peak != 25 || got.TimeToDrain == nil || *got.TimeToDrain != 5 ||
		got.Rate == nil || len(got.Samples) != len(tl.Samples) {
		t.Errorf("json %s (err %v)", js, err)
	}
}
