package core

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/jocko/jocko/storage"
)

// segsOf builds n closed segments of size bytes each, from offset 0, with
// timestamps ts0, ts0+1, ...
func segsOf(n int, size, ts0 int64) []storage.SegmentInfo {
	out := make([]storage.SegmentInfo, n)
	for i := range out {
		out[i] = storage.SegmentInfo{Base: int64(i * 10), Next: int64(i*10 + 10), Bytes: size, MaxTimestamp: ts0 + int64(i)}
	}
	return out
}

func cutMap(cuts []diskCut) map[tp]int64 {
	m := map[tp]int64{}
	for _, c := range cuts {
		m[c.key] = c.offset
	}
	return m
}

func TestDiskPlanUnderBudgetDeletesNothing(t *testing.T) {
	topics := []diskTopic{{name: "a", bytes: 500, capBytes: -1, shareBytes: -1,
		parts: []diskPart{{key: tp{"a", 0}, segs: segsOf(5, 100, 0)}}}}
	if cuts := planDiskRetention(800, 1000, 80, topics); len(cuts) != 0 {
		t.Fatalf("at 80%% of an 80%% budget: cuts %+v", cuts)
	}
	if cuts := planDiskRetention(990, 1000, -1, topics); len(cuts) != 0 {
		t.Fatalf("budget off, no cap: cuts %+v", cuts)
	}
}

// TestDiskPlanTakesFromTopicsOverTheirShare: two topics, equal shares of
// a 500-byte budget (250 each); "big" holds 600, "small" 100; the disk is
// 200 over. Only big is over its share, so big gives it all, oldest first.
func TestDiskPlanTakesFromTopicsOverTheirShare(t *testing.T) {
	topics := []diskTopic{
		{name: "big", bytes: 600, capBytes: -1, shareBytes: -1, parts: []diskPart{
			{key: tp{"big", 0}, segs: segsOf(3, 100, 10)}, // timestamps 10, 11, 12
			{key: tp{"big", 1}, segs: segsOf(3, 100, 0)},  // 0, 1, 2: older
		}},
		{name: "small", bytes: 100, capBytes: -1, shareBytes: -1, parts: []diskPart{
			{key: tp{"small", 0}, segs: segsOf(1, 100, -5)}, // the oldest of all
		}},
	}
	got := cutMap(planDiskRetention(700, 1000, 50, topics))
	want := map[tp]int64{{"big", 1}: 20} // two 100-byte segments of the older partition
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cuts %v, want %v", got, want)
	}
}

// TestDiskPlanProportional: both topics over their shares (retention.topic.bytes
// for one, an equal share for the other): each gives in proportion to how
// far it is over.
func TestDiskPlanProportional(t *testing.T) {
	topics := []diskTopic{
		{name: "a", bytes: 1000, capBytes: -1, shareBytes: 200, parts: []diskPart{ // 800 over
			{key: tp{"a", 0}, segs: segsOf(10, 100, 0)}}},
		{name: "b", bytes: 600, capBytes: -1, shareBytes: -1, parts: []diskPart{ // 400 over an equal share of 200
			{key: tp{"b", 0}, segs: segsOf(6, 100, 0)}}},
	}
	// budget 40% of 1000 = 400; used 1000: 600 over; a gives 400, b 200.
	got := cutMap(planDiskRetention(1000, 1000, 40, topics))
	want := map[tp]int64{{"a", 0}: 40, {"b", 0}: 20}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cuts %v, want %v", got, want)
	}
}

// TestDiskPlanTopicCapAlone: retention.disk.percent on one topic applies
// with the broker budget off, to that topic only.
func TestDiskPlanTopicCapAlone(t *testing.T) {
	topics := []diskTopic{
		{name: "capped", bytes: 500, capBytes: 250, shareBytes: -1, parts: []diskPart{
			{key: tp{"capped", 0}, segs: segsOf(5, 100, 50)}}},
		{name: "free", bytes: 400, capBytes: -1, shareBytes: -1, parts: []diskPart{
			{key: tp{"free", 0}, segs: segsOf(4, 100, 0)}}},
	}
	got := cutMap(planDiskRetention(950, 1000, -1, topics))
	want := map[tp]int64{{"capped", 0}: 30} // 250 over: three segments
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cuts %v, want %v", got, want)
	}
}

// TestDiskPlanShortfallTakenFromOldestElsewhere: the topic over its share
// leads nothing here (its partitions are followed), so the excess comes
// from the oldest segments of the topics this broker leads.
func TestDiskPlanShortfallTakenFromOldestElsewhere(t *testing.T) {
	topics := []diskTopic{
		{name: "followed", bytes: 900, capBytes: -1, shareBytes: -1},
		{name: "led", bytes: 100, capBytes: -1, shareBytes: -1, parts: []diskPart{
			{key: tp{"led", 0}, segs: segsOf(3, 30, 0)}}},
	}
	got := cutMap(planDiskRetention(1000, 1000, 95, topics)) // 50 over
	want := map[tp]int64{{"led", 0}: 20}                     // two 30-byte segments
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cuts %v, want %v", got, want)
	}
}

// TestDiskPlanProperties checks, for random inputs: cuts are at segment
// ends the input offered (so never above the high watermark or in the
// active segment), one per partition; a topic under its cap with the
// budget off loses nothing; and when the budget is exceeded and enough is
// deletable, the cuts free at least the excess.
func TestDiskPlanProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := rapid.Int64Range(1000, 1_000_000).Draw(t, "total")
		pct := rapid.Float64Range(-1, 100).Draw(t, "pct")
		nt := rapid.IntRange(1, 4).Draw(t, "topics")
		var topics []diskTopic
		var used, deletable int64
		for i := range nt {
			name := fmt.Sprintf("t%d", i)
			td := diskTopic{name: name, capBytes: -1, shareBytes: -1}
			if rapid.Bool().Draw(t, "capped") {
				td.capBytes = rapid.Int64Range(0, total).Draw(t, "cap")
			}
			if rapid.Bool().Draw(t, "shared") {
				td.shareBytes = rapid.Int64Range(0, total).Draw(t, "share")
			}
			for p := range rapid.IntRange(0, 3).Draw(t, "parts") {
				n := rapid.IntRange(0, 6).Draw(t, "segs")
				segs := segsOf(n, rapid.Int64Range(1, total/20+1).Draw(t, "size"), rapid.Int64Range(0, 100).Draw(t, "ts"))
				for _, s := range segs {
					td.bytes += s.Bytes
					deletable += s.Bytes
				}
				td.parts = append(td.parts, diskPart{key: tp{name, int32(p)}, segs: segs})
			}
			td.bytes += rapid.Int64Range(0, total/10).Draw(t, "active") // active segments, followers
			used += td.bytes
			topics = append(topics, td)
		}
		used += rapid.Int64Range(0, total/2).Draw(t, "other")
		used = min(used, total)
		cuts := planDiskRetention(used, total, pct, topics)
		offered := map[tp]map[int64]int64{} // partition -> segment end -> bytes up to it
		for _, td := range topics {
			for _, p := range td.parts {
				offered[p.key] = map[int64]int64{}
				var sum int64
				for _, s := range p.segs {
					sum += s.Bytes
					offered[p.key][s.Next] = sum
				}
			}
		}
		seen := map[tp]bool{}
		var freed int64
		for _, c := range cuts {
			bytes, ok := offered[c.key][c.offset]
			if !ok || seen[c.key] || bytes != c.bytes {
				t.Fatalf("cut %+v: not a segment end offered, a second cut, or wrong bytes (%d)", c, bytes)
			}
			seen[c.key] = true
			freed += c.bytes
		}
		if pct <= 0 {
			for _, td := range topics {
				if td.capBytes < 0 || td.bytes <= td.capBytes {
					for _, p := range td.parts {
						if seen[p.key] {
							t.Fatalf("topic %s under its cap, budget off, cut", td.name)
						}
					}
				}
			}
			return
		}
		excess := used - int64(float64(total)*pct/100)
		if excess > 0 && deletable >= excess && freed < excess {
			t.Fatalf("%d over the budget, %d deletable, only %d freed", excess, deletable, freed)
		}
	})
}
