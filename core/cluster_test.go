package core

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	jio "github.com/jocko/jocko/io"
)

// testCluster runs n brokers in this process on loopback, with static
// initial voters (every broker a voter when n <= 5).
type testCluster struct {
	brokers []*Broker
	stop    []context.CancelFunc
	done    []chan error
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startTestCluster starts n brokers, all initial voters; each opt may
// change every broker's config. Ports are picked free and released before
// the brokers bind them, so another test may take one meanwhile: a
// cluster whose broker fails to bind is started again on other ports.
func startTestCluster(t testing.TB, n int, opts ...func(*Config)) *testCluster {
	t.Helper()
	for attempt := 1; ; attempt++ {
		tc, err := tryStartTestCluster(t, n, opts...)
		if err == nil {
			return tc
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("starting the cluster again on other ports: %v", err)
	}
}

func tryStartTestCluster(t testing.TB, n int, opts ...func(*Config)) (*testCluster, error) {
	t.Helper()
	voters := map[int32]string{}
	kafka := map[int32]string{}
	for i := int32(1); i <= int32(n); i++ {
		kafka[i] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		voters[i] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	tc := &testCluster{}
	early := make(chan error, n) // a broker's Run that failed (its done channel keeps the error too)
	stopAll := func() {
		for i := range tc.brokers {
			tc.stop[i]()
			<-tc.done[i]
		}
	}
	for i := int32(1); i <= int32(n); i++ {
		cfg := Config{NodeID: i, DataDir: t.TempDir(), ListenAddr: kafka[i], RaftAddr: voters[i], Voters: voters}
		for _, o := range opts {
			o(&cfg)
		}
		env := jio.Env{Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		b, err := NewBroker(cfg, env)
		if err != nil {
			stopAll()
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		id := i
		go func() {
			err := b.Run(ctx)
			if err != nil && ctx.Err() == nil {
				early <- fmt.Errorf("broker %d: %w", id, err)
			}
			done <- err
		}()
		tc.brokers, tc.stop, tc.done = append(tc.brokers, b), append(tc.stop, cancel), append(tc.done, done)
	}
	for i, b := range tc.brokers {
		select {
		case <-b.Ready():
		case err := <-early:
			stopAll()
			return nil, err
		case <-time.After(20 * time.Second):
			stopAll()
			return nil, fmt.Errorf("broker %d not ready", i+1)
		}
	}
	t.Cleanup(func() {
		for i := range tc.brokers {
			tc.stop[i]()
			if err := <-tc.done[i]; err != nil {
				t.Errorf("broker %d: %v", i+1, err)
			}
		}
	})
	return tc, nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestForwardedCreateTopics: CreateTopics sent to a broker that is not the
// controller is forwarded there, and answered only once the answering
// broker's own metadata has the topic.
func TestForwardedCreateTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	var follower *Broker
	for _, b := range tc.brokers {
		if !b.node.IsLeader() {
			follower = b
			break
		}
	}
	if follower == nil {
		t.Fatal("no broker is a follower")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := follower.dialPeer(ctx, follower.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for i, want := range []int16{0, kerr.TopicAlreadyExists.Code} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "forwarded", 3, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		req.SetVersion(5)
		resp, err := c.do(ctx, time.Now(), req)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.(*kmsg.CreateTopicsResponse).Topics[0]
		if got.ErrorCode != want {
			t.Fatalf("attempt %d: error %v, want %v (%v)", i, kerr.ErrorForCode(got.ErrorCode), kerr.ErrorForCode(want), deref(got.ErrorMessage))
		}
		top, ok := follower.node.State().Topic("forwarded")
		if !ok || len(top.Partitions) != 3 {
			t.Fatalf("attempt %d: answered before the answering broker's metadata had the topic", i)
		}
	}
	// Every broker's metadata converges.
	for _, b := range tc.brokers {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, ok := b.node.State().Topic("forwarded"); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d never saw the topic", b.cfg.NodeID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return fmt.Sprint(*s)
}
