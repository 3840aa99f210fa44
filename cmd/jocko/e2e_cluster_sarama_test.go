package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestE2EClusterSaramaLeaderKill9: sarama's idempotent acks=all producer
// (default settings but for the idempotence it needs and a retry budget
// longer than a failover) sends to an RF=3 topic on three processes while
// the leader is killed with SIGKILL: every send succeeds, and every
// acknowledged record is read back once.
func TestE2EClusterSaramaLeaderKill9(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 3)
	ctx := testCtx(t)
	adm := procs[0].admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "sarama-failover"); err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 60
	cfg.Producer.Retry.Backoff = 250 * time.Millisecond
	prod, err := sarama.NewSyncProducer(seeds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const total = 300
	leader := partitionLeader(t, ctx, adm, "sarama-failover", 0)
	var victim *proc
	for _, p := range procs {
		if brokerID(t, p) == leader {
			victim = p
		}
	}
	for i := range total {
		if i == total/3 {
			victim.kill9()
		}
		if i == 2*total/3 {
			victim.restart()
		}
		v := strconv.Itoa(i)
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama-failover", Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatalf("send %d (leader %d killed at %d): %v", i, leader, total/3, err)
		}
	}
	other := procs[0]
	if other == victim {
		other = procs[1]
	}
	got := consumeAll(t, other, "sarama-failover", total)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for i := range total {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("acknowledged record %d read %d times", i, n)
		}
	}
}
