package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

// WriteTables writes every table as markdown: per row each contender's
// median with the range of its samples, then ref ÷ each other contender.
func WriteTables(w io.Writer, tables []*Table, ref, unit string) {
	procs := map[int]bool{}
	for _, t := range tables {
		procs[t.Procs] = true
	}
	for _, t := range tables {
		title := t.Name
		if len(procs) > 1 {
			title += fmt.Sprintf(" (GOMAXPROCS=%d)", t.Procs)
		}
		contenders := slices.Clone(t.Contenders)
		hasRef := slices.Contains(contenders, ref)
		if hasRef {
			i := slices.Index(contenders, ref)
			contenders = slices.Insert(slices.Delete(contenders, i, i+1), 0, ref)
		}
		n := commonCount(t, contenders)
		fmt.Fprintf(w, "### %s\n\n", title)
		fmt.Fprintf(w, "%s: median (min–max) of %s", unit, plural(n, "sample"))
		if hasRef {
			fmt.Fprintf(w, "; %s ÷ peer: ratio of the medians, below 1 means %s is faster (lower is better)", ref, ref)
		} else {
			fmt.Fprintf(w, "; no %s in this table, so no ratios", ref)
		}
		fmt.Fprint(w, ".\n\n")

		heads := rowHeads(t.Rows)
		cols := append(heads[:2:2], contenders...)
		if hasRef {
			for _, c := range contenders[1:] {
				cols = append(cols, ref+" ÷ "+c)
			}
		}
		writeRow(w, cols)
		align := []string{"---", "---"}
		for range cols[2:] {
			align = append(align, "---:")
		}
		writeRow(w, align)
		for _, r := range t.Rows {
			cells := []string{rowCell(heads[0], r.Parts[0]), rowCell(heads[1], r.Parts[1])}
			for _, c := range contenders {
				cells = append(cells, spreadCell(r.Spread(c), n))
			}
			if hasRef {
				for _, c := range contenders[1:] {
					cells = append(cells, ratioCell(r.Spread(ref), r.Spread(c)))
				}
			}
			writeRow(w, cells)
		}
		fmt.Fprintln(w)
	}
}

// WriteDPDK writes ringkit (ref) in table prefix against DPDK's rte_ring:
// one row per DPDK case, in the order dpdk-ringbench prints them.
func WriteDPDK(w io.Writer, tables []*Table, dpdk []DPDKResult, prefix, ref, unit string) {
	type dkey struct {
		ring, shape string
		burst       int
	}
	var order []dkey
	samples := map[dkey][]float64{}
	for _, d := range dpdk {
		k := dkey{d.Ring, d.Shape, d.Burst}
		if _, ok := samples[k]; !ok {
			order = append(order, k)
		}
		samples[k] = append(samples[k], d.NsPerElem)
	}
	fmt.Fprintf(w, "### %s against DPDK rte_ring (%s table)\n\n", ref, prefix)
	fmt.Fprintf(w, "%s: median (min–max) of the samples, %s from %s/RING/SHAPE/burst=N/%s, DPDK from ../shared/anchors/dpdk-ringbench (C, polling with rte_pause); %s ÷ DPDK below 1 means %s is faster (lower is better).\n\n",
		unit, ref, prefix, ref, ref, ref)
	writeRow(w, []string{"ring", "shape", "burst", ref, "DPDK rte_ring", ref + " ÷ DPDK"})
	writeRow(w, []string{"---", "---", "---:", "---:", "---:", "---:"})
	for _, k := range order {
		var mine benchfmt.Spread
		for _, t := range tables {
			if t.Name != prefix+"/"+k.ring {
				continue
			}
			if r := t.Row([2]string{k.shape, fmt.Sprintf("burst=%d", k.burst)}); r != nil {
				mine = r.Spread(ref)
				break
			}
		}
		theirs := benchfmt.SpreadOf(samples[k])
		writeRow(w, []string{k.ring, k.shape, fmt.Sprint(k.burst),
			spreadCell(mine, 0), spreadCell(theirs, 0), ratioCell(mine, theirs)})
	}
	fmt.Fprintln(w)
}

// WriteCalibration lists the calibrations of the run with the machine
// state each shows, and says whether the state held for the whole run.
func WriteCalibration(w io.Writer, cals []Calibration) {
	fmt.Fprint(w, "### Machine state (../shared/anchors/calibrate)\n\n")
	if len(cals) == 0 {
		fmt.Fprint(w, "No calibration in the input: the machine state of this run is unknown.\n\n")
		return
	}
	writeRow(w, []string{"when", "cache line one-way", "state"})
	writeRow(w, []string{"---", "---:", "---"})
	states := map[string]bool{}
	for _, c := range cals {
		label := c.Label
		if label == "" {
			label = "–"
		}
		writeRow(w, []string{label, fmt.Sprintf("%.1f ns", c.OneWayNs), c.State()})
		states[c.State()] = true
	}
	fmt.Fprintf(w, "\nStates: fast ≤ %.0f ns, slow %.0f–%.0f ns one-way (these VMs move between about 55–75 and 190–210 ns); busy ≥ %.0f ns means other work had the CPUs and the figures are not to be trusted. ",
		fastUpTo, slowFrom, busyFrom, busyFrom)
	if len(states) == 1 {
		fmt.Fprintf(w, "Every calibration shows one state: %s.\n\n", cals[0].State())
	} else {
		fmt.Fprintf(w, "The calibrations show %s: the machine changed state during the run, so compare only tables whose calibrations before and after agree.\n\n",
			strings.Join(slices.Sorted(maps.Keys(states)), ", "))
	}
}

// rowHeads names the two row columns: the key when every row's element
// there is key=value with one key (the cells then show the value), else
// "shape", which is what the benchmarks' unkeyed element is.
func rowHeads(rows []*Row) [2]string {
	var heads [2]string
	for i := range heads {
		key := ""
		for j, r := range rows {
			k, _, ok := strings.Cut(r.Parts[i], "=")
			if !ok || j > 0 && k != key {
				key = ""
				break
			}
			key = k
		}
		heads[i] = key
		if key == "" {
			heads[i] = "shape"
		}
	}
	return heads
}

func rowCell(head, part string) string {
	if v, ok := strings.CutPrefix(part, head+"="); ok {
		return v
	}
	return part
}

// commonCount is the number of samples most cells of t have, so that only
// the cells that differ need to say theirs.
func commonCount(t *Table, contenders []string) int {
	counts := map[int]int{}
	best := 0
	for _, r := range t.Rows {
		for _, c := range contenders {
			if n := len(r.Samples[c]); n > 0 {
				counts[n]++
				if counts[n] > counts[best] || counts[n] == counts[best] && n > best {
					best = n
				}
			}
		}
	}
	return best
}

// spreadCell shows a spread as "12.3 (11.9–13.0)", with " n=K" when its
// count differs from common (0: never), and "–" when there is no sample.
func spreadCell(s benchfmt.Spread, common int) string {
	if s.N == 0 {
		return "–"
	}
	cell := num(s.Median)
	if s.Min != s.Max {
		cell += " (" + num(s.Min) + "–" + num(s.Max) + ")"
	}
	if common > 0 && s.N != common {
		cell += fmt.Sprintf(" n=%d", s.N)
	}
	return cell
}

// ratioCell is a ÷ b of the medians, or "–" when either is missing.
func ratioCell(a, b benchfmt.Spread) string {
	if a.N == 0 || b.N == 0 || b.Median == 0 {
		return "–"
	}
	return ratio(a.Median / b.Median)
}

// ratio formats a ratio with two decimals, three below 0.1 so that a
// small one does not read as zero.
func ratio(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.3f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// num formats a figure with three significant digits, or all of its
// integer digits.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// plural is "1 sample", "3 samples".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
