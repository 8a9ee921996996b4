package depth

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// WriteSummary prints the timeline's headline: peak, time to drain and, when
// known, the processing rate.
func (t *Timeline) WriteSummary(w io.Writer) error {
	var err error
	printf := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	printf("queue depth: %d readings, peak %d at %s", len(t.Samples), t.Peak, secs(t.PeakAt))
	switch {
	case t.Drained && t.LoadEnd >= 0:
		printf(", empty %s after the load ended (at %s, drained at %s)", secs(t.TimeToDrain()), secs(t.LoadEnd), secs(t.DrainedAt))
	case t.LoadEnd >= 0:
		printf(", not empty yet %s after the load ended", secs(t.lastAt()-t.LoadEnd))
	default:
		printf(", the load had not ended")
	}
	if rate, ok := t.ProcessingRate(); ok {
		printf("; processing rate %.2f payments/s while the queue was not empty", rate)
	}
	if t.Errors > 0 {
		printf("; %d failed readings", t.Errors)
	}
	printf("\n")
	return err
}

func (t *Timeline) lastAt() time.Duration {
	if len(t.Samples) == 0 {
		return 0
	}
	return t.Samples[len(t.Samples)-1].At
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// WriteCSV writes the timeline to the file name: t_s, depth, processed,
// in_flight (empty when unknown).
func (t *Timeline) WriteCSV(name string) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("write depth csv: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write depth csv %s: %w", name, cerr)
		}
	}()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"t_s", "depth", "processed", "in_flight"})
	for _, s := range t.Samples {
		rec := []string{strconv.FormatFloat(s.At.Seconds(), 'f', 3, 64), strconv.Itoa(s.Depth), "", ""}
		if s.Processed >= 0 {
			rec[2] = strconv.FormatInt(s.Processed, 10)
		}
		if s.InFlight >= 0 {
			rec[3] = strconv.Itoa(s.InFlight)
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write depth csv %s: %w", name, err)
	}
	return nil
}

// MarshalJSON encodes the timeline with times in seconds.
func (t *Timeline) MarshalJSON() ([]byte, error) {
	type sampleJSON struct {
		At        float64 `json:"t_s"`
		Depth     int     `json:"depth"`
		Processed *int64  `json:"processed,omitempty"`
		InFlight  *int    `json:"in_flight,omitempty"`
	}
	out := struct {
		Peak           int          `json:"peak"`
		PeakAt         float64      `json:"peak_at_s"`
		LoadEnd        *float64     `json:"load_end_s"`
		Drained        bool         `json:"drained"`
		DrainedAt      *float64     `json:"drained_at_s,omitempty"`
		TimeToDrain    *float64     `json:"time_to_drain_s,omitempty"`
		ProcessingRate *float64     `json:"processing_rate,omitempty"`
		Errors         int          `json:"errors"`
		Samples        []sampleJSON `json:"samples"`
	}{Peak: t.Peak, PeakAt: t.PeakAt.Seconds(), Drained: t.Drained, Errors: t.Errors, Samples: []sampleJSON{}}
	if t.LoadEnd >= 0 {
		v := t.LoadEnd.Seconds()
		out.LoadEnd = &v
	}
	if t.Drained {
		at, ttd := t.DrainedAt.Seconds(), t.TimeToDrain().Seconds()
		out.DrainedAt, out.TimeToDrain = &at, &ttd
	}
	if rate, ok := t.ProcessingRate(); ok {
		out.ProcessingRate = &rate
	}
	for _, s := range t.Samples {
		sj := sampleJSON{At: s.At.Seconds(), Depth: s.Depth}
		if s.Processed >= 0 {
			p := s.Processed
			sj.Processed = &p
		}
		if s.InFlight >= 0 {
			n := s.InFlight
			sj.InFlight = &n
		}
		out.Samples = append(out.Samples, sj)
	}
	return json.Marshal(out)
}
