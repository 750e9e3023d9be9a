package main

import (
	"slices"
	"strings"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

// A Table is the results of one benchmark table: rows of cases, each with
// the samples of every contender.
type Table struct {
	// Name is the benchmark name's leading elements: "Try/SPSC".
	Name string
	// Procs is the GOMAXPROCS suffix of the results.
	Procs int
	// Contenders are the contenders in the order they first appear.
	Contenders []string
	// Rows are the rows in the order they first appear.
	Rows []*Row
	rows map[[2]string]*Row
}

// A Row is one case of a table, such as shape p1c1 at burst 1.
type Row struct {
	// Parts are the two name elements that name the row.
	Parts [2]string
	// Samples are the figures of each contender, one per sample.
	Samples map[string][]float64
}

// Spread returns the spread of a contender's samples in the row (N is 0
// when the contender has none).
func (r *Row) Spread(contender string) benchfmt.Spread {
	return benchfmt.SpreadOf(r.Samples[contender])
}

// Collect groups results into tables by name (see the package doc), using
// the metric with the given unit. It returns the tables in the order they
// first appear, and how many results it left out: too short a name, or no
// such metric.
func Collect(results []benchfmt.Result, unit string) (tables []*Table, skipped int) {
	type tableKey struct {
		name  string
		procs int
	}
	byKey := map[tableKey]*Table{}
	for _, res := range results {
		parts := strings.Split(res.Name, "/")
		v, ok := res.Value(unit)
		if len(parts) < 4 || !ok {
			skipped++
			continue
		}
		n := len(parts)
		k := tableKey{strings.Join(parts[:n-3], "/"), res.Procs}
		t := byKey[k]
		if t == nil {
			t = &Table{Name: k.name, Procs: k.procs, rows: map[[2]string]*Row{}}
			byKey[k] = t
			tables = append(tables, t)
		}
		rk := [2]string{parts[n-3], parts[n-2]}
		row := t.rows[rk]
		if row == nil {
			row = &Row{Parts: rk, Samples: map[string][]float64{}}
			t.rows[rk] = row
			t.Rows = append(t.Rows, row)
		}
		c := parts[n-1]
		if !slices.Contains(t.Contenders, c) {
			t.Contenders = append(t.Contenders, c)
		}
		row.Samples[c] = append(row.Samples[c], v)
	}
	return tables, skipped
}

// Find returns the table with the given name and GOMAXPROCS, or nil.
func Find(tables []*Table, name string, procs int) *Table {
	for _, t := range tables {
		if t.Name == name && t.Procs == procs {
			return t
		}
	}
	return nil
}

// Row returns the row named by parts, or nil.
func (t *Table) Row(parts [2]string) *Row { return t.rows[parts] }
