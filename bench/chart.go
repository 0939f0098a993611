package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// The chart's layout in pixels: a header with the legend, then panels in a
// grid of two columns.
const (
	chartWidth   = 1400
	headerHeight = 96
	panelWidth   = chartWidth / 2
	panelHeight  = 340
	plotLeft     = 70 // room for the y axis labels
	plotTop      = 58 // room for the panel's title and cut-off values
	plotBottom   = 50 // room for the group labels
	plotRight    = 24
	barGap       = 4 // between bars of a group
	maxBarWidth  = 56
	groupPadding = 0.2 // share of a group's width left empty
)

var (
	background = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink        = color.RGBA{0x22, 0x22, 0x22, 0xff}
	faint      = color.RGBA{0x77, 0x77, 0x77, 0xff}
	grid       = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	// colors per system; others take the fallbacks in turn.
	systemColors = map[string]color.RGBA{
		"routed":            {0x9e, 0x9e, 0x9e, 0xff},
		"wireguard-go":      {0x88, 0x17, 0x1a, 0xff},
		"strongswan":        {0x1f, 0x5f, 0xa8, 0xff},
		"vnetgw":            {0x2e, 0x8b, 0x57, 0xff},
		"vnetgw-strongswan": {0x6a, 0xb0, 0x4c, 0xff},
		"vnetgw-raw":        {0x1b, 0x5e, 0x3b, 0xff},
	}
	goalColor      = color.RGBA{0xd9, 0x5f, 0x0e, 0xff}
	fallbackColors = []color.RGBA{{0xd9, 0x8c, 0x1f, 0xff}, {0x7b, 0x4f, 0xa8, 0xff}, {0x1f, 0xa8, 0xa0, 0xff}}
)

// panel is one bar chart: for each group (a test), one bar per series (a
// system) at the median, with a whisker from the minimum to the maximum.
type panel struct {
	title  string
	groups []string
	series []series
	// empty is shown instead of bars when no series has a value, e.g. for
	// a part that did not run.
	empty string
	// goal, when not zero, is drawn as a line across the plot.
	goal float64
	// legend names the series under the title; the chart's header names
	// the systems of the throughput panels.
	legend bool
}

type series struct {
	name  string
	color color.RGBA
	bars  []summary // one per group; n == 0 draws nothing
	// ceiling marks a system that is not a tunnel but the upper bound.
	ceiling bool
}

// faces are the chart's fonts.
type faces struct {
	title, heading, label font.Face
}

func newFaces() (*faces, error) {
	regular, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, err
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, err
	}
	face := func(f *opentype.Font, size float64) (font.Face, error) {
		return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	}
	var fs faces
	if fs.title, err = face(bold, 22); err != nil {
		return nil, err
	}
	if fs.heading, err = face(bold, 15); err != nil {
		return nil, err
	}
	if fs.label, err = face(regular, 12); err != nil {
		return nil, err
	}
	return &fs, nil
}

// WriteChart draws the run as a PNG: throughput, packet rate and CPU per
// gigabyte per system, IKE handshakes per second, memory per tunnel and
// the time from a connection's PUT to Connected.
func WriteChart(w io.Writer, res *Result, m Machine) error {
	fs, err := newFaces()
	if err != nil {
		return fmt.Errorf("chart fonts: %w", err)
	}
	panels := chartPanels(res)
	rows := (len(panels) + 1) / 2
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, headerHeight+rows*panelHeight))
	draw.Draw(img, img.Bounds(), image.NewUniform(background), image.Point{}, draw.Src)

	text(img, fs.title, 24, 34, ink, "vnetgw benchmarks")
	text(img, fs.label, 24, 56, faint, fmt.Sprintf("%s · %s, %d cores · %s · median of %d × %d s, whiskers min–max · load %s → %s",
		res.Start.Format("2006-01-02 15:04 UTC"), m.CPU, m.Cores, m.Kernel, res.Options.Runs, res.Options.Seconds, res.LoadBefore, res.LoadAfter))
	x := 24
	for _, s := range res.Systems {
		c := colorOf(res, s.Name)
		label := s.Name
		if s.Name == Ceiling {
			label += " (no tunnel: the ceiling, cut off ↑ where taller)"
		}
		if s.Status != Measured {
			c, label = grid, s.Name+" ("+string(s.Status)+")"
		}
		fill(img, image.Rect(x, 70, x+14, 84), c)
		x += 20
		text(img, fs.label, x, 82, ink, label)
		x += width(fs.label, label) + 24
	}

	for i, p := range panels {
		r := image.Rect(0, 0, panelWidth, panelHeight).Add(image.Pt(i%2*panelWidth, headerHeight+i/2*panelHeight))
		drawPanel(img, r, p, fs)
	}
	return png.Encode(w, img)
}

// chartPanels turns a result into panels.
func chartPanels(res *Result) []panel {
	pick := func(title string, f figure, want func(Test) bool) panel {
		p := panel{title: title, empty: "no measurements"}
		if !res.Options.Selects(PartThroughput) {
			p.empty = notRun
		}
		var tests []Test
		for _, t := range res.Tests {
			if want(t) {
				tests = append(tests, t)
				p.groups = append(p.groups, t.Label())
			}
		}
		for _, s := range res.Systems {
			if s.Status != Measured {
				continue
			}
			se := series{name: s.Name, color: colorOf(res, s.Name), ceiling: s.Name == Ceiling}
			any := false
			for _, t := range tests {
				st := s.stat(t.Name, f)
				se.bars = append(se.bars, st)
				any = any || st.n > 0
			}
			if any { // no empty slot for a system without this figure
				p.series = append(p.series, se)
			}
		}
		return p
	}
	tcp := func(t Test) bool { return !t.UDP }
	return []panel{
		pick("TCP throughput, Mbit/s (higher is better)", throughput, tcp),
		pick("UDP 64-byte packets received, kpps (higher is better)", packetRate, func(t Test) bool { return t.UDP }),
		pick("CPU s per GB moved, TCP, gateway processes (lower is better)", cpuPerGB, tcp),
		ikePanel(res.IKE),
		memoryPanel(res.Scale),
		connectPanel(res.Control),
	}
}

// notRun is what a panel of a part that did not run shows.
const notRun = "not measured in this run"

// ikePanel shows IKE SAs per second per group at the vnetgw gateway, with
// vnetgw's peers initiating and with strongSwan initiating (the check uses
// one group): the gateway's rate in both, not strongSwan's.
func ikePanel(r *IKEResult) panel {
	p := panel{title: "IKE SAs per second at one vnetgw gateway (higher is better)", empty: notRun, goal: IKEGoal, legend: true}
	if r == nil {
		return p
	}
	peers := series{name: "vnetgw's load generator → vnetgw", color: systemColors["vnetgw"]}
	swan := series{name: fmt.Sprintf("strongSwan → vnetgw, %d at once (vnetgw's rate, not strongSwan's)", r.Options.SwanConns), color: systemColors["strongswan"]}
	for _, g := range r.Groups {
		name, _, _ := strings.Cut(g.Group.Label, " ")
		p.groups = append(p.groups, name)
		s, _ := stats(g.Samples, func(s IKESample) float64 { return s.Rate }, func(IKESample) float64 { return 0 })
		peers.bars = append(peers.bars, s)
		var sw summary
		if g.Group.Name == goalGroup {
			sw, _ = stats(r.Swan, func(s SwanSample) float64 { return s.Rate }, func(SwanSample) float64 { return 0 })
		}
		swan.bars = append(swan.bars, sw)
	}
	p.series = []series{peers}
	if len(r.Swan) > 0 {
		p.series = append(p.series, swan)
	}
	return p
}

// memoryPanel shows the gateway's resident memory per tunnel per count of
// tunnels: all of it divided by the tunnels, which the goal counts, and the
// part that bringing the tunnels up added.
func memoryPanel(r *ScaleResult) panel {
	p := panel{title: "Gateway VmRSS per tunnel, KiB, all tunnels up (lower is better)", empty: notRun, legend: true}
	if r == nil {
		return p
	}
	all := series{name: "in all: VmRSS ÷ tunnels", color: systemColors["vnetgw"]}
	growth := series{name: "of it, growth as they came up", color: systemColors["vnetgw-strongswan"]}
	for _, sz := range r.Sizes {
		p.groups = append(p.groups, thousands(float64(sz.Tunnels))+" tunnels")
		none := func(ScaleSample) float64 { return 0 }
		a, _ := stats(sz.Samples, func(s ScaleSample) float64 { return s.RSSPerTunnel() / 1024 }, none)
		g, _ := stats(sz.Samples, func(s ScaleSample) float64 { return s.GrowthPerTunnel() / 1024 }, none)
		all.bars, growth.bars = append(all.bars, a), append(growth.bars, g)
	}
	p.series = []series{all, growth}
	return p
}

// connectPanel shows the time from a connection's PUT to Connected, as the
// API shows it and in the data plane.
func connectPanel(r *ControlResult) panel {
	p := panel{title: "Connection PUT to Connected, ms (lower is better)", empty: notRun, goal: float64(ConnectGoal.Milliseconds()), legend: true}
	if r == nil {
		return p
	}
	api := series{name: "seen through the API", color: systemColors["vnetgw"]}
	dp := series{name: "data plane", color: systemColors["vnetgw-strongswan"]}
	for _, k := range r.Connects {
		p.groups = append(p.groups, k.Short)
		a, _ := stats(k.Samples, func(s ConnectSample) float64 { return float64(s.API) / 1e6 }, func(ConnectSample) float64 { return 0 })
		d, _ := stats(k.Samples, func(s ConnectSample) float64 { return float64(s.DataPlane) / 1e6 }, func(ConnectSample) float64 { return 0 })
		api.bars, dp.bars = append(api.bars, a), append(dp.bars, d)
	}
	p.series = []series{api, dp}
	return p
}

// colorOf returns a system's color: its own, or a fallback by its place.
func colorOf(res *Result, name string) color.RGBA {
	if c, ok := systemColors[name]; ok {
		return c
	}
	n := 0
	for _, s := range res.Systems {
		if s.Name == name {
			break
		}
		if _, ok := systemColors[s.Name]; !ok {
			n++
		}
	}
	return fallbackColors[n%len(fallbackColors)]
}

func drawPanel(img *image.RGBA, r image.Rectangle, p panel, fs *faces) {
	text(img, fs.heading, r.Min.X+plotLeft, r.Min.Y+26, ink, p.title)
	plot := image.Rect(r.Min.X+plotLeft, r.Min.Y+plotTop, r.Max.X-plotRight, r.Max.Y-plotBottom)
	if p.legend {
		x := plot.Min.X
		for _, s := range p.series {
			fill(img, image.Rect(x, r.Min.Y+34, x+10, r.Min.Y+44), s.color)
			x += 14
			text(img, fs.label, x, r.Min.Y+44, ink, s.name)
			x += width(fs.label, s.name) + 16
		}
	}
	// The axis fits the tunnels; a ceiling taller than all of them is cut
	// off and marked, or the tunnels' bars would be slivers.
	top, ceilingTop := 0.0, 0.0
	for _, s := range p.series {
		for _, b := range s.bars {
			switch {
			case b.n == 0:
			case s.ceiling:
				ceilingTop = math.Max(ceilingTop, b.max)
			default:
				top = math.Max(top, b.max)
			}
		}
	}
	if top == 0 {
		top = ceilingTop
	}
	if top <= 0 || len(p.groups) == 0 {
		frame(img, plot, grid)
		msg := p.empty
		text(img, fs.label, (plot.Min.X+plot.Max.X-width(fs.label, msg))/2, (plot.Min.Y+plot.Max.Y)/2, faint, msg)
		return
	}
	// The goal's line stays in view.
	step, top := ticks(math.Max(top, p.goal*1.1))
	y := func(v float64) int { return plot.Max.Y - int(math.Round(min(v, top)/top*float64(plot.Dy()))) }
	for v := 0.0; v <= top+step/2; v += step {
		yy := y(v)
		fill(img, image.Rect(plot.Min.X, yy, plot.Max.X, yy+1), grid)
		l := tickLabel(v)
		text(img, fs.label, plot.Min.X-8-width(fs.label, l), yy+4, faint, l)
	}
	fill(img, image.Rect(plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y+1), ink)
	if p.goal > 0 {
		// A dashed line at the goal, labelled at its right end.
		gy := y(p.goal)
		for x := plot.Min.X; x < plot.Max.X; x += 10 {
			fill(img, image.Rect(x, gy, min(x+6, plot.Max.X), gy+2), goalColor)
		}
		l := "goal " + compact(p.goal)
		text(img, fs.label, plot.Max.X-width(fs.label, l)-2, gy-4, goalColor, l)
	}

	groupW := float64(plot.Dx()) / float64(len(p.groups))
	barW := min(maxBarWidth, (groupW*(1-groupPadding)-float64(barGap*(len(p.series)-1)))/float64(len(p.series)))
	barsW := barW*float64(len(p.series)) + float64(barGap*(len(p.series)-1))
	for g, name := range p.groups {
		gx := float64(plot.Min.X) + float64(g)*groupW + (groupW-barsW)/2
		text(img, fs.label, int(float64(plot.Min.X)+float64(g)*groupW+groupW/2)-width(fs.label, name)/2, plot.Max.Y+20, ink, name)
		for i, s := range p.series {
			b := s.bars[g]
			if b.n == 0 {
				continue
			}
			x0 := int(gx + float64(i)*(barW+barGap))
			x1 := int(gx + float64(i)*(barW+barGap) + barW)
			mid := (x0 + x1) / 2
			fill(img, image.Rect(x0, y(b.median), x1, plot.Max.Y), s.color)
			l := compact(b.median)
			if b.median > top {
				// Cut off: a white gap across the bar near the top, and
				// the value above the plot.
				fill(img, image.Rect(x0, plot.Min.Y+8, x1, plot.Min.Y+11), background)
				l += " ↑"
				text(img, fs.label, mid-width(fs.label, l)/2, plot.Min.Y-4, ink, l)
				continue
			}
			// Whisker from min to max (up to the axis top), with caps.
			fill(img, image.Rect(mid, y(b.max), mid+1, y(b.min)+1), ink)
			fill(img, image.Rect(mid-3, y(b.min), mid+4, y(b.min)+1), ink)
			if b.max <= top {
				fill(img, image.Rect(mid-3, y(b.max), mid+4, y(b.max)+1), ink)
			}
			// The median just above the bar, on a white patch that
			// interrupts the whisker.
			w := width(fs.label, l)
			fill(img, image.Rect(mid-w/2-2, y(b.median)-16, mid+w/2+2, y(b.median)-2), background)
			text(img, fs.label, mid-w/2, y(b.median)-5, ink, l)
		}
	}
}

// ticks returns a round step for about five grid lines up to at least
// top, and the top of the axis.
func ticks(top float64) (step, axis float64) {
	raw := top / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	return step, math.Ceil(top/step) * step
}

// compact formats a value in a few characters: 14.9k, 2,727, 558, 3.4, 0.42.
func compact(v float64) string {
	switch a := math.Abs(v); {
	case a >= 10000:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + "k"
	case a >= 1000:
		return thousands(v)
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// tickLabel is compact without trailing zeros: 20k, 2.5, 0.25.
func tickLabel(v float64) string {
	s := compact(v)
	num, k := strings.CutSuffix(s, "k")
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	if k {
		num += "k"
	}
	return num
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func frame(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), c)
	fill(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), c)
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), c)
	fill(img, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// text draws s with its baseline at y, starting at x.
func text(img *image.RGBA, f font.Face, x, y int, c color.RGBA, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func width(f font.Face, s string) int { return font.MeasureString(f, s).Round() }
