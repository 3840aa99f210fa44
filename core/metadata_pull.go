package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// A broker outside the metadata Raft group pulls the metadata from the
// controller (cluster/observer.go), inside Envelope with principal
// pullPrincipal, as commands and joins travel. The controller long-polls:
// it answers once the metadata moved past the asked index, or after
// pullWait.

const pullPrincipal = "jocko:metadata"

// pullWait is how long the controller holds a pull with nothing new.
const pullWait = 5 * time.Second

type pullRequest struct {
	From   uint64 `json:"from"`
	WaitMs int64  `json:"wait_ms"`
}

// pullRedirect is a non-controller's answer: who the controller is.
type pullRedirect struct {
	Leader int32  `json:"leader"`
	Addr   string `json:"addr"` // its Kafka address
}

// puller is the observer's connection to the controller; only the node's
// observer goroutine uses it, one pull at a time.
type puller struct {
	conn       *peerConn
	next       int    // round-robin position among seeds
	leaderAddr string // the controller's address a redirect gave, until it fails
}

// pullMetadata is the node's cluster.PullFunc.
func (b *Broker) pullMetadata(ctx context.Context, from uint64) (cluster.MetadataChunk, error) {
	addr, err := b.pullTarget()
	if err != nil {
		return cluster.MetadataChunk{}, err
	}
	data, _ := json.Marshal(pullRequest{From: from, WaitMs: pullWait.Milliseconds()})
	req := kmsg.NewPtrEnvelopeRequest()
	req.RequestData, req.RequestPrincipal = data, []byte(pullPrincipal)
	p := &b.puller
	if p.conn != nil && p.conn.addr != addr {
		p.conn.close()
		p.conn = nil
	}
	rctx, cancel := context.WithTimeout(ctx, pullWait+peerRequestTimeout/3)
	defer cancel()
	if p.conn == nil {
		if p.conn, err = b.dialPeer(rctx, addr); err != nil {
			p.leaderAddr = "" // a redirect's controller is gone: ask around again
			return cluster.MetadataChunk{}, fmt.Errorf("pull from %s: %w", addr, err)
		}
	}
	resp, err := p.conn.do(rctx, b.env.Clock.Now(), req)
	if err != nil {
		p.conn.close()
		p.conn, p.leaderAddr = nil, ""
		return cluster.MetadataChunk{}, fmt.Errorf("pull from %s: %w", addr, err)
	}
	er := resp.(*kmsg.EnvelopeResponse)
	if er.ErrorCode == kerr.NotController.Code {
		var rd pullRedirect
		if json.Unmarshal(er.ResponseData, &rd) == nil && rd.Leader > 0 && rd.Addr != "" && rd.Addr != addr {
			p.leaderAddr = rd.Addr
			return cluster.MetadataChunk{}, fmt.Errorf("pull from %s: the controller is broker %d at %s", addr, rd.Leader, rd.Addr)
		}
		return cluster.MetadataChunk{}, fmt.Errorf("pull from %s: no controller known there", addr)
	}
	if er.ErrorCode != 0 {
		return cluster.MetadataChunk{}, fmt.Errorf("pull from %s: %v", addr, kerr.ErrorForCode(er.ErrorCode))
	}
	var c cluster.MetadataChunk
	if err := json.Unmarshal(er.ResponseData, &c); err != nil {
		return cluster.MetadataChunk{}, fmt.Errorf("pull from %s: bad answer: %v", addr, err)
	}
	return c, nil
}

// pullTarget picks whom to ask: the controller when its address is known,
// else the next of the brokers this one knows of (the metadata it has,
// then its gossip members), which redirect to the controller.
func (b *Broker) pullTarget() (string, error) {
	st := b.node.State()
	if id, ok := b.node.LeaderID(); ok && id != b.cfg.NodeID {
		if br, ok := st.Brokers[id]; ok {
			return net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))), nil
		}
	}
	if b.puller.leaderAddr != "" {
		return b.puller.leaderAddr, nil
	}
	var seeds []string
	for _, id := range st.SortedBrokerIDs() {
		if br := st.Brokers[id]; id != b.cfg.NodeID {
			seeds = append(seeds, net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))))
		}
	}
	if b.members != nil {
		for _, m := range b.members.Members() {
			if m.Status == cluster.StatusAlive && m.KafkaAddr != "" && m.KafkaAddr != b.addr {
				seeds = append(seeds, m.KafkaAddr)
			}
		}
	}
	if len(seeds) == 0 {
		return "", errors.New("no other broker known to pull the metadata from")
	}
	b.puller.next = (b.puller.next + 1) % len(seeds)
	return seeds[b.puller.next], nil
}

// handlePull answers a pull: the controller with what is new, any other
// broker with who the controller is.
func (b *Broker) handlePull(ctx context.Context, req *kmsg.EnvelopeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.EnvelopeResponse)
	var pr pullRequest
	if err := json.Unmarshal(req.RequestData, &pr); err != nil || pr.WaitMs < 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	wait := min(time.Duration(pr.WaitMs)*time.Millisecond, pullWait)
	c, err := b.node.MetadataSince(ctx, pr.From, wait)
	if errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNotRunning) {
		resp.ErrorCode = kerr.NotController.Code
		if id, ok := b.node.LeaderID(); ok && id != b.cfg.NodeID {
			if br, ok := b.node.State().Brokers[id]; ok {
				resp.ResponseData, _ = json.Marshal(pullRedirect{Leader: id, Addr: net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port)))})
			}
		}
		return resp
	}
	if err != nil {
		resp.ErrorCode = kerr.RequestTimedOut.Code
		return resp
	}
	resp.ResponseData, _ = json.Marshal(c)
	return resp
}
