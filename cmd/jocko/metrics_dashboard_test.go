package main

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/jocko/jocko/core"
)

// exportedSeriesNames gathers what a broker's registry exports, with every
// family given a series, as the names a query can use (a histogram's
// _bucket, _sum and _count).
func exportedSeriesNames(t *testing.T) (names map[string]bool, jocko []string) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newPromMetrics(reg)
	m.RequestDone(0, time.Millisecond)
	m.ResponseError(0, 6, 1)
	m.LogSynced(time.Millisecond, 3)
	reg.MustRegister(&statsCollector{lagMax: groupLagSeriesMax, stats: func(int) core.Stats {
		return core.Stats{
			Topics:     []core.TopicStats{{Topic: "t"}},
			Partitions: []core.PartitionStats{{Topic: "t"}},
			Groups:     map[string]int{"Stable": 1},
			Lags:       []core.GroupLag{{Group: "g", Topic: "t"}},
		}
	}})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names = map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		names[n] = true
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY {
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		}
		if regexp.MustCompile(`^jocko_`).MatchString(n) {
			jocko = append(jocko, n)
		}
	}
	sort.Strings(jocko)
	return names, jocko
}

// TestGrafanaDashboardUsesExportedMetrics: every metric the example
// dashboard queries is one the broker exports, and every jocko_ metric
// the broker exports has a panel.
func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../examples/grafana/jocko.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	names, jocko := exportedSeriesNames(t)
	used := map[string]bool{}
	metricRE := regexp.MustCompile(`\b(?:jocko|go|process)_[a-z_]+\b`)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricRE.FindAllString(tg.Expr, -1) {
				if !names[n] {
					t.Errorf("panel %q queries %s, which the broker does not export", p.Title, n)
				}
				used[regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(n, "")] = true
				used[n] = true
			}
		}
	}
	for _, n := range jocko {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}
