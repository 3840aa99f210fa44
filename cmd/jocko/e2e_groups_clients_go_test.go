package main

// Go group consumers in process: sarama and kafka-go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
)

// goMember is an in-process group member (sarama, kafka-go).
type goMember struct {
	name string
	log  cgLog
	mu   sync.Mutex
	owns []int32
	// reportsOwned: the client tells what it owns (sarama's Setup)
	reportsOwned bool
	errs         []string
	fatal        error
	cancel       context.CancelFunc
	done         chan struct{}
	close        func() error
}

func (m *goMember) Name() string { return m.name }
func (m *goMember) Log() *cgLog  { return &m.log }

func (m *goMember) Owned() ([]int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.owns...), m.reportsOwned
}

func (m *goMember) setOwned(ps []int32) {
	m.mu.Lock()
	m.owns = append([]int32(nil), ps...)
	m.mu.Unlock()
}

func (m *goMember) note(err error) {
	m.mu.Lock()
	if len(m.errs) < 50 {
		m.errs = append(m.errs, time.Now().Format("15:04:05.000 ")+err.Error())
	}
	m.mu.Unlock()
}

func (m *goMember) setFatal(err error) {
	m.mu.Lock()
	m.fatal = err
	m.mu.Unlock()
}

func (m *goMember) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fatal
}

func (m *goMember) Diag() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.errs, "\n")
}

// Stop ends the consume loop and closes the client (commit, LeaveGroup).
func (m *goMember) Stop(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-m.done:
		return
	default:
	}
	m.cancel()
	select {
	case <-m.done:
	case <-ctx.Done():
		t.Fatalf("%s: consume loop did not end", m.name)
	}
	if err := m.close(); err != nil {
		t.Fatalf("%s: close: %v", m.name, err)
	}
}

// saramaHandler records claims and messages; MarkMessage commits (with
// sarama's auto-commit of marked offsets).
type saramaHandler struct {
	m     *goMember
	topic string
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.m.setOwned(s.Claims()[h.topic])
	return nil
}

func (h saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.m.setOwned(nil)
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		v, err := strconv.Atoi(string(msg.Value))
		if err != nil {
			return err
		}
		h.m.log.add(cgRecord{partition: msg.Partition, offset: msg.Offset, value: v})
		s.MarkMessage(msg, "")
	}
	return nil
}

func startSarama(t *testing.T, b *proc, group, topic, clientID string, version sarama.KafkaVersion, strategy sarama.BalanceStrategy) cgMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.ClientID = clientID
	cfg.Version = version
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cg, err := sarama.NewConsumerGroup([]string{b.addr}, group, cfg)
	if err != nil {
		t.Fatalf("%s: %v", clientID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &goMember{name: clientID, cancel: cancel, done: make(chan struct{}), close: cg.Close, reportsOwned: true}
	go func() {
		for err := range cg.Errors() {
			m.note(err)
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, saramaHandler{m, topic}); err != nil {
				m.note(err)
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					m.setFatal(err)
					return
				}
				waitABit(ctx)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done; cg.Close() })
	return m
}

// TestE2EGroupClientsSarama: sarama's ConsumerGroup, at old and new
// protocol versions, with its range, sticky and round-robin strategies.
// sarama picks request versions from Config.Version: V2_1_0_0 sends
// JoinGroup v3, SyncGroup/Heartbeat/LeaveGroup v2, OffsetCommit v6,
// FindCoordinator v2 ... V3_x and V4_x JoinGroup v6+ and flexible versions.
func TestE2EGroupClientsSarama(t *testing.T) {
	t.Parallel()
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name     string
		version  sarama.KafkaVersion
		strategy func() sarama.BalanceStrategy
	}{
		{"v2.1-range", sarama.V2_1_0_0, sarama.NewBalanceStrategyRange},
		{"v2.8-sticky", sarama.V2_8_0_0, sarama.NewBalanceStrategySticky},
		{"v3.6-roundrobin", sarama.V3_6_0_0, sarama.NewBalanceStrategyRoundRobin},
		{"v4.0-sticky", sarama.V4_0_0_0, sarama.NewBalanceStrategySticky},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "sarama-" + tc.name
			cgScenario(t, b, px, group, group, 0, func(clientID string) cgMember {
				return startSarama(t, b, group, group, clientID, tc.version, tc.strategy())
			})
		})
	}
}

func startKafkaGo(t *testing.T, b *proc, group, topic, clientID string, balancer kafka.GroupBalancer) cgMember {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &goMember{name: clientID, cancel: cancel, done: make(chan struct{})}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{b.addr},
		GroupID:           group,
		Topic:             topic,
		Dialer:            &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second},
		StartOffset:       kafka.FirstOffset,
		GroupBalancers:    []kafka.GroupBalancer{balancer},
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 300 * time.Millisecond,
		JoinGroupBackoff:  200 * time.Millisecond,
		MaxWait:           200 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		CommitInterval:    0, // CommitMessages commits synchronously
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { m.note(fmt.Errorf(f, a...)) }),
	})
	m.close = r.Close
	go func() {
		defer close(m.done)
		for {
			msg, err := r.FetchMessage(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				m.note(err)
				if errors.Is(err, io.EOF) {
					m.setFatal(err)
					return
				}
				continue
			}
			v, err := strconv.Atoi(string(msg.Value))
			if err != nil {
				m.setFatal(fmt.Errorf("value %q: %v", msg.Value, err))
				return
			}
			m.log.add(cgRecord{partition: int32(msg.Partition), offset: msg.Offset, value: v})
			if err := r.CommitMessages(ctx, msg); err != nil && ctx.Err() == nil {
				m.note(fmt.Errorf("commit %d/%d: %w", msg.Partition, msg.Offset, err))
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done; r.Close() })
	return m
}

// TestE2EGroupClientsKafkaGo: segmentio/kafka-go's Reader with a GroupID
// (old versions: ApiVersions v0, FindCoordinator v0, JoinGroup v2,
// SyncGroup/LeaveGroup v0 ...), with its range and round-robin balancers,
// committing each message with CommitMessages.
func TestE2EGroupClientsKafkaGo(t *testing.T) {
	t.Parallel()
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name     string
		balancer kafka.GroupBalancer
	}{
		{"range", kafka.RangeGroupBalancer{}},
		{"roundrobin", kafka.RoundRobinGroupBalancer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "kafkago-" + tc.name
			cgScenario(t, b, px, group, group, 0, func(clientID string) cgMember {
				return startKafkaGo(t, b, group, group, clientID, tc.balancer)
			})
		})
	}
}
