package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ringBursts are the rows of rings-producers.png and ringPanels its
// columns: the like-for-like table's MPSC and MPMC, and the blocking
// table's MPMC (it has no MPSC).
var (
	ringBursts = []int{1, 32}
	ringPanels = []struct{ table, ring string }{{"Try", "MPSC"}, {"Try", "MPMC"}, {"Best", "MPMC"}}
)

// DrawRings draws rings-producers.png into path: ns/elem against producers,
// one panel per table, ring type and burst, one line per implementation
// through the medians, with whiskers from the smallest to the largest
// sample. It reports false, and writes nothing, when results hold none of
// the ring benchmarks.
func DrawRings(path string, results []Result) (bool, error) {
	grid := make([][]*plot.Plot, len(ringBursts))
	var all []Series
	for row, burst := range ringBursts {
		grid[row] = make([]*plot.Plot, len(ringPanels))
		for col, panel := range ringPanels {
			ss := RingSeries(results, panel.table, panel.ring, burst)
			if len(ss) == 0 {
				continue
			}
			all = append(all, ss...)
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s, %s, burst=%d", panel.ring, tableTitles[panel.table], burst)
			p.Y.Label.Text = "ns/elem (log), lower is better"
			if panel.ring == "MPMC" {
				p.X.Label.Text = "producers (= consumers)"
			} else {
				p.X.Label.Text = "producers (1 consumer)"
			}
			if err := addLines(p, ss, func(label string) int { return rank(implOrder, label) }); err != nil {
				return false, err
			}
			grid[row][col] = p
		}
	}
	if len(all) == 0 {
		return false, nil
	}
	// One log scale for every panel, so that panels compare at a glance.
	lo, hi := yRange(all)
	for _, row := range grid {
		for _, p := range row {
			if p == nil {
				continue
			}
			setLogX(p, all)
			if lo > 0 {
				p.Y.Scale = plot.LogScale{}
				p.Y.Tick.Marker = ticks125{}
				// Headroom above the data for the legend.
				p.Y.Min, p.Y.Max = lo/1.2, hi*4
			}
			p.Legend.Top, p.Legend.Left = true, true
		}
	}
	return true, saveGrid(path, grid, 36*vg.Centimeter, 20*vg.Centimeter, spreadNote)
}

// spreadNote is the caption of the figures that show samples.
const spreadNote = "Lines join the medians of the samples; whiskers span the smallest to the largest sample. Lower is better."

// DrawShares draws tc-shares.png into path from a scheduler run.
func DrawShares(path string, sh Shares, weights []int) error {
	p := plot.New()
	p.Title.Text = "Traffic-class shares of one port, weights " + joinInts(weights, ":") +
		" (solid: measured at the sink per sample; dashed: configured)"
	p.X.Label.Text = "simulated time (ms)"
	p.Y.Label.Text = "share of port bytes"
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, 1
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
	for i := range sh.Got {
		got, owed := make(plotter.XYs, len(sh.Times)), make(plotter.XYs, len(sh.Times))
		for j, t := range sh.Times {
			ms := float64(t.Microseconds()) / 1e3
			got[j] = plotter.XY{X: ms, Y: sh.Got[i][j]}
			owed[j] = plotter.XY{X: ms, Y: sh.Owed[i][j]}
		}
		gl, err := plotter.NewLine(got)
		if err != nil {
			return fmt.Errorf("plot: tc-shares: %w", err)
		}
		gl.Color, gl.Width = plotutil.Color(i), vg.Points(1.5)
		ol, err := plotter.NewLine(owed)
		if err != nil {
			return fmt.Errorf("plot: tc-shares: %w", err)
		}
		ol.StepStyle = plotter.PreStep
		ol.Color, ol.Width, ol.Dashes = plotutil.Color(i), vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(ol, gl)
		p.Legend.Add(fmt.Sprintf("TC%d (weight %d)", i, weights[i]), gl)
	}
	key, err := plotter.NewLine(plotter.XYs{})
	if err != nil {
		return fmt.Errorf("plot: tc-shares: %w", err)
	}
	key.Color, key.Dashes = color.Gray{Y: 80}, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Legend.Add("configured share of the backlogged classes", key)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return saveGrid(path, [][]*plot.Plot{{p}}, 24*vg.Centimeter, 12*vg.Centimeter, "")
}

// DrawDowntime draws downtime-sessions.png into path: migration downtime
// against the number of sessions. It reports false, and writes nothing,
// when results hold no BenchmarkDowntime with a downtime metric.
func DrawDowntime(path string, results []Result) (bool, error) {
	ss := DowntimeSeries(results)
	if len(ss) == 0 {
		return false, nil
	}
	p := plot.New()
	p.Title.Text = "Live-migration downtime"
	p.X.Label.Text = "sessions"
	p.Y.Label.Text = "downtime (ms), lower is better"
	p.Y.Min = 0
	if err := addLines(p, ss, nil); err != nil {
		return false, err
	}
	setLogX(p, ss)
	_, hi := yRange(ss)
	p.Y.Max = max(hi, p.Y.Max) * 1.2 // headroom for the legend
	p.Y.Tick.Marker = linearTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return true, saveGrid(path, [][]*plot.Plot{{p}}, 18*vg.Centimeter, 12*vg.Centimeter, spreadNote)
}

// addLines adds each series as a line through its medians with a point at
// each, and a whisker from the smallest to the largest sample. style, if
// not nil, picks the colour, dashes and glyph of a label so that one label
// looks the same in every panel. Series are dodged: each is drawn at its X
// times a small factor of its own, so that whiskers at the same X stand side
// by side instead of on top of each other (the axis ticks stay at the true
// X).
func addLines(p *plot.Plot, ss []Series, style func(label string) int) error {
	for i, s := range ss {
		shift := math.Pow(dodge, float64(i)-float64(len(ss)-1)/2)
		xys := make(plotter.XYs, len(s.Points))
		errs := make(plotter.YErrors, len(s.Points))
		for j, pt := range s.Points {
			xys[j] = plotter.XY{X: pt.X * shift, Y: pt.Y}
			errs[j].Low, errs[j].High = pt.Y-pt.Lo, pt.Hi-pt.Y
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plot: series %q: %w", s.Label, err)
		}
		whiskers, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs})
		if err != nil {
			return fmt.Errorf("plot: series %q: %w", s.Label, err)
		}
		k := i
		if style != nil {
			k = style(s.Label)
		}
		l.Color, l.Width, l.Dashes = plotutil.Color(k), vg.Points(1.5), plotutil.Dashes(k)
		pts.Color, pts.Shape = plotutil.Color(k), plotutil.Shape(k)
		whiskers.Color, whiskers.Width, whiskers.CapWidth = plotutil.Color(k), vg.Points(1), vg.Points(4)
		p.Add(l, whiskers, pts)
		p.Legend.Add(s.Label, l, pts)
	}
	return nil
}

// dodge is the factor between the X of neighbouring series (see addLines).
const dodge = 1.05

// yRange returns the smallest and largest Y of ss, whiskers included, or
// 0, 0 if one is not positive (no log scale then).
func yRange(ss []Series) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, pt := range s.Points {
			if pt.Lo <= 0 {
				return 0, 0
			}
			lo, hi = min(lo, pt.Lo), max(hi, pt.Hi)
		}
	}
	return lo, hi
}

// setLogX puts X on a log scale with a tick at every X of the data when
// the data spans a factor of 4 or more, as 1, 4, 16 producers or 10 to
// 10000 sessions do; evenly spread sizes then get even room.
func setLogX(p *plot.Plot, ss []Series) {
	xs := map[float64]bool{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, pt := range s.Points {
			if pt.X <= 0 {
				return
			}
			xs[pt.X] = true
			lo, hi = min(lo, pt.X), max(hi, pt.X)
		}
	}
	if hi < 4*lo {
		return
	}
	var ts plot.ConstantTicks
	for x := range xs {
		ts = append(ts, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ts
	p.X.Min, p.X.Max = lo/1.3, hi*1.3
}

// ticks125 marks a log axis at 1, 2 and 5 times each power of ten, all
// labelled: a plain log axis labels only the powers, which leaves a narrow
// range such as 5 to 300 ns with one or two labels.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ts
}

// linearTicks marks a linear axis every 1, 2 or 5 times a power of ten,
// whichever gives five to ten labelled ticks; the default marker labels
// only a few.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	mag := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; (hi-lo)/step <= 10 {
			break
		}
	}
	prec := max(0, -int(math.Floor(math.Log10(step))))
	var ts []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi; k++ {
		v := k * step
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
	}
	return ts
}

// saveGrid draws the plots, a grid of rows of panels (nil for an empty
// panel), into one PNG file of the given size, with caption, if not empty,
// as one line of text under them.
func saveGrid(path string, grid [][]*plot.Plot, w, h vg.Length, caption string) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(120))
	dc := draw.New(img)
	if caption != "" {
		const height = vg.Length(24)
		sty := draw.TextStyle{
			Color:   color.Black,
			Font:    font.From(plot.DefaultFont, 11),
			XAlign:  draw.XCenter,
			YAlign:  draw.YCenter,
			Handler: plot.DefaultTextHandler,
		}
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Min.Y + height/2}, caption)
		dc = draw.Crop(dc, 0, 0, height, 0)
	}
	tiles := draw.Tiles{
		Rows: len(grid), Cols: len(grid[0]),
		PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8),
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, row := range grid {
		for j, p := range row {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot: writing %s: %w", path, err)
	}
	return nil
}

func joinInts(v []int, sep string) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += sep
		}
		s += strconv.Itoa(x)
	}
	return s
}
