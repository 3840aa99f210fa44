package main

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jocko/jocko/core"
)

// TestStatsCollectorCapsGroupLag: however many group lags a snapshot
// holds, one scrape exports at most groupLagSeriesMax lag series, and the
// dropped gauge counts those the snapshot and the collector left out; the
// collector asks the snapshot for no more than the cap.
func TestStatsCollectorCapsGroupLag(t *testing.T) {
	t.Parallel()
	const over, droppedBySnapshot = 5, 3
	var asked int
	c := &statsCollector{lagMax: groupLagSeriesMax, stats: func(lagMax int) core.Stats {
		asked = lagMax
		s := core.Stats{LagsDropped: droppedBySnapshot}
		for i := range groupLagSeriesMax + over {
			s.Lags = append(s.Lags, core.GroupLag{Group: fmt.Sprintf("g%d", i), Topic: "t", Partition: int32(i % 7), Lag: int64(i)})
		}
		return s
	}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if asked != groupLagSeriesMax {
		t.Fatalf("the collector asked for %d lags, want %d", asked, groupLagSeriesMax)
	}
	lags, dropped := -1, -1.0
	for _, f := range fams {
		switch f.GetName() {
		case "jocko_group_lag_records":
			lags = len(f.GetMetric())
		case "jocko_group_lag_dropped_series":
			dropped = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if lags != groupLagSeriesMax {
		t.Errorf("%d lag series, want the cap, %d", lags, groupLagSeriesMax)
	}
	if dropped != over+droppedBySnapshot {
		t.Errorf("dropped gauge %v, want %d", dropped, over+droppedBySnapshot)
	}
}
