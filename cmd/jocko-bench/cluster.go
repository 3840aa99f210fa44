package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The replication benchmark (-cluster): the same acks=all produce workload
// (franz-go's default idempotent producer, cfg.valueLen-byte random values,
// cfg.clusterParts partitions, cfg.clusterMB of payload) first against one
// broker at replication factor 1, then against three brokers joined into a
// cluster at replication factor 3, one after the other on the same machine.
//
// The timing starts once the client has connected to every partition's
// leader and has its producer ID (a warm-up of warmRecords records, acked
// and left out), and ends when the last record is acknowledged.
//
// Disk bytes are the growth of write_bytes in /proc/<pid>/io summed over
// the broker processes: what they caused to be written to the storage
// layer, counted by the kernel when a page is dirtied, so a partial page
// rewritten after an fsync counts again (data directory growth, reported
// as dir_growth_bytes, would not). Three brokers sharing one disk write
// every byte three times at RF=3, so the goal (issue 8) is RF=3's disk
// bytes per second at 0.8 or more of RF=1's.

// stopGrace is how long a broker has for its controlled shutdown before a
// second SIGTERM stops it at once.
const stopGrace = 5 * time.Second

// warmRecords are produced and acknowledged before the timing starts.
const warmRecords = 4096

// clusterRatio compares the RF=3 run with the RF=1 run.
type clusterRatio struct {
	Test       string  `json:"test"`
	Partitions int     `json:"partitions"`
	Metric     string  `json:"metric"`
	RF3OverRF1 float64 `json:"rf3_over_rf1"`
	Goal       float64 `json:"goal,omitempty"`
	Met        *bool   `json:"met,omitempty"`
}

// runCluster builds jocko once and runs the RF=1 and RF=3 produce tests,
// each against brokers of its own, writing JSON lines to out.
func runCluster(ctx context.Context, cfg config, out io.Writer) error {
	warnIfBusy()
	dir, bin, err := benchDir(ctx, "jocko-bench-cluster", cfg.jockoBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	enc := json.NewEncoder(out)
	var rs []result
	for _, rf := range []int{1, 3} {
		r, err := replicatedProduce(ctx, cfg, bin, filepath.Join(dir, fmt.Sprintf("rf%d", rf)), rf)
		if err != nil {
			return fmt.Errorf("RF=%d: %w", rf, err)
		}
		enc.Encode(r)
		rs = append(rs, r)
	}
	met := rs[1].DiskBytesPerS >= 0.8*rs[0].DiskBytesPerS
	enc.Encode(clusterRatio{Test: rs[0].Test, Partitions: cfg.clusterParts, Metric: "disk_bytes_per_s",
		RF3OverRF1: div(rs[1].DiskBytesPerS, rs[0].DiskBytesPerS), Goal: 0.8, Met: &met})
	enc.Encode(clusterRatio{Test: rs[0].Test, Partitions: cfg.clusterParts, Metric: "records_per_s",
		RF3OverRF1: div(rs[1].RecordsPerS, rs[0].RecordsPerS)})
	return nil
}

// replicatedProduce starts rf brokers with data under dir, creates a topic
// at replication factor rf and times the acks=all produce of cfg.clusterMB
// of payload, then stops the brokers.
func replicatedProduce(ctx context.Context, cfg config, bin, dir string, rf int) (r result, err error) {
	r = result{Target: "jocko", Test: "produce-replicated", Partitions: cfg.clusterParts, Brokers: rf, ReplicationFactor: rf}
	procs, err := startBrokers(ctx, bin, dir, rf, cfg.brokerArgs)
	defer func() {
		for _, p := range procs {
			p.logs.stopping() // peers leaving: warnings by design
		}
		// Last started first, as the metadata group keeps its quorum
		// longest that way (the first broker is its leader).
		for i := len(procs) - 1; i >= 0; i-- {
			if serr := procs[i].stop(stopGrace); err == nil && serr != nil {
				err = serr
			}
		}
	}()
	if err != nil {
		return r, err
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	topic := fmt.Sprintf("bench-rf%d", rf)
	if err := createReplicated(ctx, seeds, topic, cfg.clusterParts, rf); err != nil {
		return r, err
	}
	cl, err := newClient(seeds[0], kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return r, err
	}
	defer cl.Close()
	pl := newPayloads(cfg.valueLen)
	var failed produceFailures
	done := failed.record
	produceN := func(n int) error {
		for i := range n {
			cl.Produce(ctx, &kgo.Record{Value: pl.value(i, cfg.valueLen)}, done)
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		if n := failed.n.Load(); n > 0 {
			return fmt.Errorf("%d records failed, first: %w", n, failed.first)
		}
		return nil
	}
	if err := produceN(warmRecords); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	records := max(1, cfg.clusterMB*1_000_000/cfg.valueLen)
	logf("RF=%d: producing %d records of %d bytes to %d partitions", rf, records, cfg.valueLen, cfg.clusterParts)
	before := sample(procs)
	start := time.Now()
	if err := produceN(records); err != nil {
		return r, err
	}
	elapsed := time.Since(start)
	after := sample(procs)
	fill(&r, int64(records), int64(records*cfg.valueLen), elapsed)
	r.DiskBytes = after.writeBytes - before.writeBytes
	r.DiskBytesPerS = round(float64(r.DiskBytes) / elapsed.Seconds())
	r.DiskMBPerS = round(r.DiskBytesPerS / 1e6)
	r.DirGrowthBytes = after.dirBytes - before.dirBytes
	r.BrokerCPUSeconds = round(after.cpu - before.cpu)
	r.ClientCPUSeconds = round(after.clientCPU - before.clientCPU)
	for i := range procs {
		r.DiskBytesPerBroker = append(r.DiskBytesPerBroker, after.perProc[i]-before.perProc[i])
	}
	if !after.ioOK {
		logf("warning: /proc/<pid>/io unreadable; disk bytes are the data directories' growth")
		r.DiskBytes = r.DirGrowthBytes
		r.DiskBytesPerS = round(float64(r.DiskBytes) / elapsed.Seconds())
		r.DiskMBPerS = round(r.DiskBytesPerS / 1e6)
	}
	return r, nil
}

// startBrokers starts n brokers with data directories under dir and extra
// flags, the others joining the first through its gossip address, and
// waits until the first lists n brokers and, for a cluster, the metadata
// Raft group has min(n, 3) voters. It returns the processes started, even on error.
func startBrokers(ctx context.Context, bin, dir string, n int, extra []string) ([]*jockoProc, error) {
	first, err := launchJocko(ctx, bin, filepath.Join(dir, "b1"), extra...)
	if err != nil {
		return nil, err
	}
	procs := []*jockoProc{first}
	if n == 1 {
		return procs, nil
	}
	if first.gossip == "" {
		return procs, errors.New("the first broker logged no gossip address")
	}
	for i := 2; i <= n; i++ {
		p, err := launchJocko(ctx, bin, filepath.Join(dir, fmt.Sprintf("b%d", i)), append([]string{"--join", first.gossip}, extra...)...)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(first.addr))
	if err != nil {
		return procs, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	start := time.Now()
	err = waitFor(ctx, 90*time.Second, "brokers to register and the metadata group to have its voters", func() bool {
		md, err := adm.BrokerMetadata(ctx)
		return err == nil && len(md.Brokers) == n && quorumVoters(ctx, cl) == min(n, 3)
	})
	if err == nil {
		logf("%d brokers registered, %d voters, after %v", n, min(n, 3), time.Since(start).Round(time.Millisecond))
	}
	return procs, err
}

// quorumVoters is how many voters DescribeQuorum lists for the metadata
// Raft group (0 on an error).
func quorumVoters(ctx context.Context, cl *kgo.Client) int {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0
	}
	part := resp.Topics[0].Partitions[0]
	if part.ErrorCode != 0 {
		return 0
	}
	return len(part.CurrentVoters)
}

// createReplicated creates topic at replication factor rf, retrying while
// placement does not yet see every broker, and waits until every
// partition has a leader and rf replicas in sync.
func createReplicated(ctx context.Context, seeds []string, topic string, parts, rf int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var lastErr error
	err = waitFor(ctx, 60*time.Second, "topic creation", func() bool {
		resp, err := adm.CreateTopic(ctx, int32(parts), int16(rf), nil, topic)
		if err == nil {
			err = resp.Err
		}
		lastErr = err
		return err == nil || errors.Is(err, kerr.TopicAlreadyExists)
	})
	if err != nil {
		return fmt.Errorf("%w: %v", err, lastErr)
	}
	return waitFor(ctx, 60*time.Second, "every partition to have a leader and a full ISR", func() bool {
		tds, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false
		}
		td, ok := tds[topic]
		if !ok || td.Err != nil || len(td.Partitions) != parts {
			return false
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 || len(p.ISR) != rf {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond every 200 ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// counters is what the broker processes have done so far.
type counters struct {
	writeBytes int64   // /proc/<pid>/io write_bytes, summed
	perProc    []int64 // the same per process
	ioOK       bool    // every process's write_bytes was read
	cpu        float64 // user+system CPU seconds, summed
	clientCPU  float64 // the same for this process (the client)
	dirBytes   int64   // sizes of the files in the data directories
}

func sample(procs []*jockoProc) counters {
	c := counters{ioOK: true, clientCPU: procCPUSeconds(os.Getpid())}
	for _, p := range procs {
		pid := p.cmd.Process.Pid
		wb, err := procWriteBytes(pid)
		if err != nil {
			c.ioOK = false
		}
		c.writeBytes += wb
		c.perProc = append(c.perProc, wb)
		c.cpu += procCPUSeconds(pid)
		c.dirBytes += dirSize(p.dataDir)
	}
	return c
}

// procWriteBytes reads write_bytes from /proc/<pid>/io.
func procWriteBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no write_bytes in /proc/%d/io", pid)
}

// procCPUSeconds is utime+stime from /proc/<pid>/stat (0 if unreadable),
// in seconds at Linux's fixed USER_HZ of 100.
func procCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(ut+st) / 100
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
