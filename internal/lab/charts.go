package lab

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// depthChart draws the queue depth over real time for each worker count,
// one panel each, with the fluid model dashed beside the measurement.
func (r *Results) depthChart(name string) error {
	cols := min(2, len(r.Workers))
	rows := (len(r.Workers) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, w := range r.Workers {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%d worker(s)", w.Workers)
		p.X.Label.Text = "time (s, real)"
		p.Y.Label.Text = "queue depth"
		var measured plotter.XYs
		end := 0.0
		if w.Run.Depth != nil {
			for _, s := range w.Run.Depth.Samples {
				x := s.At.Seconds() * w.Scale
				measured = append(measured, plotter.XY{X: x, Y: float64(s.Depth)})
				end = max(end, x)
			}
		}
		end = max(end, w.Plan.ClearTime.Seconds()) * 1.05
		var model plotter.XYs
		for j := 0; j <= 200; j++ {
			t := end * float64(j) / 200
			model = append(model, plotter.XY{X: t, Y: w.Plan.BacklogAt(time.Duration(t * float64(time.Second)))})
		}
		if err := addLine(p, "measured", measured, 0, false); err != nil {
			return err
		}
		if err := addLine(p, "model", model, 1, true); err != nil {
			return err
		}
		p.Legend.Top = true
		p.Y.Tick.Marker = integerTicks{}
		plots[i/cols][i%cols] = p
	}
	return saveTiles(name, plots, 12, 4*float64(rows))
}

// latencyChart draws the cumulative distribution of the response times of
// each sync and async phase, on a log scale of real milliseconds.
func (r *Results) latencyChart(name string) error {
	p := plot.New()
	p.Title.Text = "Response time distribution (real time)"
	p.X.Label.Text = "response time (ms, log scale)"
	p.Y.Label.Text = "share of requests at or below"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	for i, c := range r.Closed {
		lat := make([]float64, 0, len(c.Run.Load.Samples))
		for _, s := range c.Run.Load.Samples {
			lat = append(lat, math.Max(0.01, float64(c.real(s.Latency))/float64(time.Millisecond)))
		}
		slices.Sort(lat)
		xys := make(plotter.XYs, len(lat))
		for j, v := range lat {
			xys[j] = plotter.XY{X: v, Y: float64(j+1) / float64(len(lat))}
		}
		if len(xys) == 0 {
			continue
		}
		if err := addLine(p, fmt.Sprintf("%s (%d users)", c.Name, c.Load.Users), xys, i, false); err != nil {
			return err
		}
	}
	// Bottom left, moved right into the empty decades between the async
	// and the sync curves.
	p.Legend.Left = true
	p.Legend.XOffs = 2 * vg.Inch
	p.Legend.YOffs = vg.Inch / 4
	return saveTiles(name, [][]*plot.Plot{{p}}, 8, 5)
}

// confirmationChart draws, for each worker count, the cumulative
// distribution of the followed orders' confirmation times (from the 202 to
// the payment, real seconds, log scale) beside the fluid model's, which is
// spread evenly from S to S + the drain time (dashed).
func (r *Results) confirmationChart(name string) error {
	p := plot.New()
	p.Title.Text = "Time from the 202 to the payment (real time)"
	p.X.Label.Text = "confirmation time (s, log scale)"
	p.Y.Label.Text = "share of followed orders at or below"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	for i, w := range r.Workers {
		c := w.Confirmation()
		if c == nil || len(c.Times) == 0 {
			continue
		}
		n := float64(c.Followed)
		measured := make(plotter.XYs, len(c.Times))
		for j, d := range c.Times {
			measured[j] = plotter.XY{X: math.Max(0.01, w.real(d).Seconds()), Y: float64(j+1) / n}
		}
		if err := addLine(p, fmt.Sprintf("%d worker(s)", w.Workers), measured, i, false); err != nil {
			return err
		}
		var model plotter.XYs
		for j := 0; j <= 100; j++ {
			q := float64(j) / 100
			model = append(model, plotter.XY{X: math.Max(0.01, w.Plan.ConfirmationTime(q).Seconds()), Y: q})
		}
		if err := addLine(p, fmt.Sprintf("%d, model", w.Workers), model, i, true); err != nil {
			return err
		}
	}
	// Top left, clear of the model's first confirmations at S: the curves
	// rise from the bottom left to the top right.
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Inch / 4
	return saveTiles(name, [][]*plot.Plot{{p}}, 8, 5)
}

// hasConfirmations reports whether any worker phase has a finished
// followed order to draw.
func (r *Results) hasConfirmations() bool {
	for _, w := range r.Workers {
		if c := w.Confirmation(); c != nil && len(c.Times) > 0 {
			return true
		}
	}
	return false
}

// integerTicks are gonum's default ticks labelled without decimals: queue
// depths are whole orders.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', 0, 64)
		}
	}
	return ticks
}

func addLine(p *plot.Plot, label string, xys plotter.XYs, color int, dashed bool) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("chart %q: %w", label, err)
	}
	l.Color = plotutil.Color(color)
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

// saveTiles draws a grid of plots into one PNG of width x height inches.
func saveTiles(name string, plots [][]*plot.Plot, width, height float64) error {
	img := vgimg.New(vg.Length(width)*vg.Inch, vg.Length(height)*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart %s: %w", name, err)
	}
	return nil
}
