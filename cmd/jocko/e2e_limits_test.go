package main

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// closedByPeer reports whether c is closed by the broker within d: a read
// ends with EOF or a reset, not with the deadline.
func closedByPeer(r *rawKafka, d time.Duration) bool {
	r.c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	_, err := r.c.Read(b[:])
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestE2EConnectionLimits: the jocko process enforces
// --max.connections.per.ip (the connection past it is closed at once,
// the others keep being served) and --connections.max.idle.ms (silent
// connections are closed, and a new one is served), and both show in
// DescribeConfigs as static settings.
func TestE2EConnectionLimits(t *testing.T) {
	b := startBroker(t, "", "--max.connections.per.ip", "2", "--connections.max.idle.ms", "2000")
	versions := func(r *rawKafka) {
		t.Helper()
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		if resp := r.do(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
			t.Fatalf("ApiVersions: error %d", resp.ErrorCode)
		}
	}
	c1, c2 := dialRaw(t, b.addr), dialRaw(t, b.addr)
	versions(c1)
	versions(c2)
	if !closedByPeer(dialRaw(t, b.addr), 1500*time.Millisecond) {
		t.Fatal("a third connection from 127.0.0.1 was served (max.connections.per.ip=2)")
	}
	versions(c1)
	dc := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	rr.ConfigNames = []string{"max.connections.per.ip", "connections.max.idle.ms", "queued.max.request.bytes"}
	dc.Resources = append(dc.Resources, rr)
	dr := c2.do(dc).(*kmsg.DescribeConfigsResponse)
	got := map[string]string{}
	for _, r := range dr.Resources {
		for _, c := range r.Configs {
			if c.Value != nil {
				got[c.Name] = *c.Value
			}
		}
	}
	if got["max.connections.per.ip"] != "2" || got["connections.max.idle.ms"] != "2000" || got["queued.max.request.bytes"] == "" {
		t.Fatalf("DescribeConfigs shows %v", got)
	}
	// Both stay silent past connections.max.idle.ms.
	if !closedByPeer(c1, 10*time.Second) || !closedByPeer(c2, 10*time.Second) {
		t.Fatal("idle connections were not closed after connections.max.idle.ms")
	}
	versions(dialRaw(t, b.addr))
	if !strings.Contains(b.logText(), "refusing connection: limit reached") {
		t.Fatalf("no log line for the refused connection:\n%s", b.logText())
	}
}
