package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jocko/jocko/core"
)

// groupLagSeriesMax caps the consumer-lag series one scrape exports: one
// per group and partition would otherwise grow with every consumer that
// ever committed.
const groupLagSeriesMax = 10_000

// statsCollector exports the broker's scrape-time snapshot (core.Stats):
// nothing here is counted on the hot paths.
type statsCollector struct {
	stats  func(lagMax int) core.Stats
	lagMax int
}

var _ prometheus.Collector = (*statsCollector)(nil)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descTopicBytesIn    = desc("jocko_topic_bytes_in_total", "Record-batch bytes produced to the topic's partitions this broker leads.", "topic")
	descTopicRecordsIn  = desc("jocko_topic_records_in_total", "Records produced to the topic's partitions this broker leads.", "topic")
	descTopicBytesOut   = desc("jocko_topic_bytes_out_total", "Record-batch bytes this broker served to consumers from the topic (not replication).", "topic")
	descTopicRecordsOut = desc("jocko_topic_records_out_total", "Records this broker served to consumers from the topic (not replication).", "topic")
	descLogSize         = desc("jocko_log_size_bytes", "Bytes in the segments of the partition's local log.", "topic", "partition")
	descLogSegments     = desc("jocko_log_segments", "Segments of the partition's local log, the active one included.", "topic", "partition")
	descPartitions      = desc("jocko_partitions", "Partition replicas on this broker.")
	descLeaders         = desc("jocko_leader_partitions", "Partitions this broker leads.")
	descUnderReplicated = desc("jocko_under_replicated_partitions", "Partitions this broker leads whose ISR lacks one of their replicas.")
	descOffline         = desc("jocko_offline_partitions", "Partitions in the cluster without a leader; reported by the controller only (0 on other brokers).")
	descFailed          = desc("jocko_failed_partitions", "Partition replicas on this broker whose log failed (offline until restart).")
	descISRShrinks      = desc("jocko_isr_shrinks_total", "ISR shrinks of partitions this broker led, committed by the controller.")
	descISRExpands      = desc("jocko_isr_expands_total", "ISR expansions of partitions this broker led, committed by the controller.")
	descCorrupt         = desc("jocko_log_corrupt_batches_total", "Corrupt batches (a failed CRC, header or sequence check) that reads and the scrub found in this broker's logs.")
	descRepairs         = desc("jocko_log_repairs_total", "Corrupt replicas on this broker truncated to before the bad batch to fetch it again from the leader.")
	descScrubbed        = desc("jocko_log_scrubbed_bytes_total", "Bytes the background scrub checked (log.scrub.bytes.per.second).")
	descRaftState       = desc("jocko_raft_state", "1 for this broker's metadata Raft state (Leader, Follower, Candidate, Shutdown), 0 for the others.", "state")
	descRaftTerm        = desc("jocko_raft_term", "The metadata Raft's current term.")
	descRaftCommit      = desc("jocko_raft_commit_index", "The metadata Raft's commit index.")
	descRaftApplied     = desc("jocko_raft_applied_index", "The last metadata Raft index applied to this broker's metadata.")
	descRaftLast        = desc("jocko_raft_last_index", "The last index in this broker's metadata Raft log.")
	descRaftLeaderChg   = desc("jocko_raft_leader_changes_total", "Metadata Raft leader changes this broker saw (a leader elected or lost).")
	descGroups          = desc("jocko_groups", "Consumer groups this broker coordinates, by state.", "state")
	descRebalances      = desc("jocko_group_rebalances_total", "Rebalances begun by groups this broker coordinates.")
	descGroupLag        = desc("jocko_group_lag_records", "Records between the partition's high watermark and the group's committed offset, for groups this broker coordinates and partitions it has a replica of; at most 10,000 series.", "group", "topic", "partition")
	descLagDropped      = desc("jocko_group_lag_dropped_series", "Group lag series left out of this scrape by the cap.")
	descConnections     = desc("jocko_connections", "Open Kafka connections (clients and other brokers).")
)

var raftStates = []string{"Leader", "Follower", "Candidate", "Shutdown"}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTopicBytesIn, descTopicRecordsIn, descTopicBytesOut, descTopicRecordsOut,
		descLogSize, descLogSegments, descPartitions, descLeaders, descUnderReplicated, descOffline, descFailed,
		descISRShrinks, descISRExpands, descCorrupt, descRepairs, descScrubbed, descRaftState, descRaftTerm, descRaftCommit, descRaftApplied, descRaftLast,
		descRaftLeaderChg, descGroups, descRebalances, descGroupLag, descLagDropped, descConnections} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats(c.lagMax)
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, t := range s.Topics {
		counter(descTopicBytesIn, float64(t.BytesIn), t.Topic)
		counter(descTopicRecordsIn, float64(t.RecordsIn), t.Topic)
		counter(descTopicBytesOut, float64(t.BytesOut), t.Topic)
		counter(descTopicRecordsOut, float64(t.RecordsOut), t.Topic)
	}
	for _, p := range s.Partitions {
		part := strconv.Itoa(int(p.Partition))
		gauge(descLogSize, float64(p.SizeBytes), p.Topic, part)
		gauge(descLogSegments, float64(p.Segments), p.Topic, part)
	}
	gauge(descPartitions, float64(len(s.Partitions)))
	gauge(descLeaders, float64(s.Leaders))
	gauge(descUnderReplicated, float64(s.UnderReplicated))
	gauge(descOffline, float64(s.Offline))
	gauge(descFailed, float64(s.Failed))
	counter(descISRShrinks, float64(s.ISRShrinks))
	counter(descISRExpands, float64(s.ISRExpands))
	counter(descCorrupt, float64(s.CorruptBatches))
	counter(descRepairs, float64(s.Repairs))
	counter(descScrubbed, float64(s.ScrubbedBytes))
	for _, st := range raftStates {
		v := 0.0
		if s.Raft.State == st {
			v = 1
		}
		gauge(descRaftState, v, st)
	}
	gauge(descRaftTerm, float64(s.Raft.Term))
	gauge(descRaftCommit, float64(s.Raft.CommitIndex))
	gauge(descRaftApplied, float64(s.Raft.AppliedIndex))
	gauge(descRaftLast, float64(s.Raft.LastIndex))
	counter(descRaftLeaderChg, float64(s.Raft.LeaderChanges))
	for st, n := range s.Groups {
		gauge(descGroups, float64(n), st)
	}
	counter(descRebalances, float64(s.Rebalances))
	// The cap holds here too, whatever the snapshot gave.
	lags, dropped := s.Lags, s.LagsDropped
	if len(lags) > c.lagMax {
		lags, dropped = lags[:c.lagMax], dropped+len(lags)-c.lagMax
	}
	for _, l := range lags {
		gauge(descGroupLag, float64(l.Lag), l.Group, l.Topic, strconv.Itoa(int(l.Partition)))
	}
	gauge(descLagDropped, float64(dropped))
	gauge(descConnections, float64(s.Connections))
}
