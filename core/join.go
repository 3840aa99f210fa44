package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

// Joining a cluster. A broker with no metadata of its own and a --join
// list merges with the cluster's gossip (Serf), then asks any member to
// admit it: the request travels to the controller (inside Envelope, as
// commands do, with principal joinPrincipal), which gives it a broker ID
// unless it pinned one, registers it (fenced, with no logs) and adds it to
// metadata; the broker then pulls the metadata as an observer
// (metadata_pull.go), registers anew and is unfenced once it has caught
// up; the controller makes it a voter when the voter set needs one
// (voters.go).

// joinPrincipal marks an Envelope that carries a joinRequest.
const joinPrincipal = "jocko:join"

// joinRequest asks the controller to admit a broker.
type joinRequest struct {
	ID       int32  `json:"id"` // 0: allocate one
	Host     string `json:"host"`
	Port     int32  `json:"port"`
	RaftAddr string `json:"raft_addr"`
	Rack     string `json:"rack,omitempty"`
	LostLogs bool   `json:"lost_logs,omitempty"` // its data directory was empty
}

// joinResult is the controller's answer.
type joinResult struct {
	ID        int32  `json:"id"`
	ClusterID string `json:"cluster_id"`
	ErrorCode int16  `json:"error_code,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Join backoff: a joining broker asks again while no member answers or no
// controller is elected.
const (
	joinBackoffMin = 200 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// prepareNode resolves this broker's identity, starts its membership
// (joining the cluster when it has no metadata yet) and creates its
// metadata node. It returns once the node exists; an error means the
// broker must not start.
func (b *Broker) prepareNode(ctx context.Context) (err error) {
	ident, err := readIdentity(b.env.FS, b.cfg.DataDir)
	if err != nil {
		return err
	}
	id := b.cfg.NodeID
	switch {
	case ident.NodeID != 0 && id != 0 && ident.NodeID != id:
		return fmt.Errorf("data directory %s belongs to broker %d, not %d: start with --node-id %d, or give broker %d another --data-dir",
			b.cfg.DataDir, ident.NodeID, id, ident.NodeID, id)
	case ident.NodeID != 0:
		id = ident.NodeID
	}
	if b.cfg.ClusterID != "" && ident.ClusterID != "" && b.cfg.ClusterID != ident.ClusterID {
		return fmt.Errorf("data directory %s belongs to cluster %s, not %s (--cluster-id)", b.cfg.DataDir, ident.ClusterID, b.cfg.ClusterID)
	}
	metaDir := filepath.Join(b.cfg.DataDir, "__meta")
	has, err := cluster.HasState(b.env, metaDir)
	if err != nil {
		return err
	}
	rl, err := b.env.Net.Listen(ctx, b.cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("listen for raft on %s: %w", b.cfg.RaftAddr, err)
	}
	defer func() {
		if err != nil {
			rl.Close()
			b.stopMembership(false)
		}
	}()
	raftAddr := advertisedAddr(rl.Addr().String(), b.addr)
	joining := !has && len(b.cfg.Join) > 0
	if b.cfg.Membership != nil {
		if err := b.startMembership(ctx, id, ident.ClusterID, raftAddr); err != nil {
			return err
		}
	}
	switch {
	case joining:
		res, err := b.admitMe(ctx, id, raftAddr)
		if err != nil {
			return err
		}
		id = res.ID
		if ident.ClusterID == "" {
			ident.ClusterID = res.ClusterID
		}
	case id == 0:
		id = 1
	}
	b.cfg.NodeID = id
	b.log = b.env.Log.With("node", id)
	if ident.NodeID != id {
		ident.NodeID = id
		if err := writeIdentity(b.env.FS, b.cfg.DataDir, ident); err != nil {
			return fmt.Errorf("record broker ID in %s: %w", b.cfg.DataDir, err)
		}
	}
	if b.members != nil {
		b.updateMemberTags(ident.ClusterID, raftAddr)
	}
	nodeEnv := b.env
	nodeEnv.Log = b.log
	var voters map[int32]string
	if !joining {
		voters = b.cfg.Voters
	}
	node, err := cluster.NewNode(cluster.Config{
		NodeID:            id,
		Listener:          rl,
		AdvertiseRaftAddr: raftAddr,
		DataDir:           metaDir,
		Env:               nodeEnv,
		Bootstrap:         !joining && len(voters) == 0,
		Voters:            voters,
		Pull:              b.pullMetadata,
		HeartbeatTimeout:  b.cfg.RaftTimeout,
		ElectionTimeout:   b.cfg.RaftTimeout,

		CountLeaderChanges: b.measured,
	})
	if err != nil {
		return fmt.Errorf("metadata log: %w", err)
	}
	b.node = node
	return nil
}

// advertisedAddr is bound with the host peers should dial: a listener on
// every interface (0.0.0.0, ::) is reached at the advertised Kafka host.
func advertisedAddr(bound, kafka string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if khost, _, err := net.SplitHostPort(kafka); err == nil {
			host = khost
		}
	}
	return net.JoinHostPort(host, port)
}

// startMembership starts gossip and, with a --join list, merges with the
// cluster (retrying until a member answers or ctx ends). A broker that
// knows its cluster refuses one with another ID; a broker whose ID a live
// member already uses refuses to start.
func (b *Broker) startMembership(ctx context.Context, id int32, clusterID, raftAddr string) error {
	name := cluster.MemberName(id)
	if id == 0 {
		name = "jocko-joining-" + strconv.FormatUint(b.env.Rand.Uint64()&0xffffffffff, 16)
	}
	dir := filepath.Join(b.cfg.DataDir, "__gossip")
	if err := b.env.FS.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m, err := b.cfg.Membership(cluster.Member{ID: id, Name: name, ClusterID: clusterID, KafkaAddr: b.addr,
		RaftAddr: raftAddr, GossipAddr: b.cfg.GossipAddr, Rack: b.cfg.Rack}, dir)
	if err != nil {
		return fmt.Errorf("gossip on %s: %w", b.cfg.GossipAddr, err)
	}
	b.members = m
	if len(b.cfg.Join) == 0 {
		return nil
	}
	b.log.Info("joining cluster", "via", b.cfg.Join)
	if err := m.Join(ctx, b.cfg.Join); err != nil {
		var mismatch *cluster.ClusterMismatchError
		var conflict *cluster.NameConflictError
		switch {
		case errors.As(err, &mismatch):
			return fmt.Errorf("refusing to join: %w (this data directory belongs to cluster %s; use an empty --data-dir to join another cluster)", err, clusterID)
		case errors.As(err, &conflict):
			return fmt.Errorf("refusing to start: %w (broker %d is alive elsewhere; give this broker another --node-id, or none to get a free one)", err, id)
		}
		return fmt.Errorf("join %v: %w", b.cfg.Join, err)
	}
	return nil
}

// updateMemberTags tells peers this broker's ID and cluster once known.
func (b *Broker) updateMemberTags(clusterID, raftAddr string) {
	if b.members == nil {
		return
	}
	err := b.members.UpdateTags(cluster.Member{ID: b.cfg.NodeID, ClusterID: clusterID, KafkaAddr: b.addr,
		RaftAddr: raftAddr, Rack: b.cfg.Rack})
	if err != nil {
		b.log.Warn("gossip: could not update this broker's tags", "err", err)
	}
}

// stopMembership leaves the gossip cluster (graceful: peers see Leave) or
// just stops (peers see a failure).
func (b *Broker) stopMembership(leave bool) {
	if b.members == nil {
		return
	}
	var err error
	if leave {
		err = b.members.Leave()
	} else {
		err = b.members.Close()
	}
	if err != nil {
		b.log.Warn("gossip: stop", "err", err)
	}
}

// admitMe asks the members gossip knows, in turn, to admit this broker,
// until one answers with an ID or a refusal.
func (b *Broker) admitMe(ctx context.Context, id int32, raftAddr string) (joinResult, error) {
	host, portStr, _ := net.SplitHostPort(b.addr)
	port, _ := strconv.Atoi(portStr)
	req := joinRequest{ID: id, Host: host, Port: int32(port), RaftAddr: raftAddr, Rack: b.cfg.Rack, LostLogs: b.lostLogs}
	backoff := joinBackoffMin
	for {
		var last error
		for _, m := range b.members.Members() {
			if m.Status != cluster.StatusAlive || m.KafkaAddr == "" || m.KafkaAddr == b.addr || m.ID == 0 {
				continue
			}
			res, err := b.sendJoin(ctx, m.KafkaAddr, req)
			if err == nil && res.ErrorCode == 0 {
				b.log.Info("admitted to the cluster", "broker_id", res.ID, "cluster_id", res.ClusterID, "via", m.KafkaAddr)
				return res, nil
			}
			if err == nil && res.ErrorCode == kerr.DuplicateBrokerRegistration.Code {
				return res, fmt.Errorf("refusing to start: %s; give this broker another --node-id, or none to get a free one", res.Message)
			}
			if err == nil {
				err = fmt.Errorf("%v: %s", kerr.ErrorForCode(res.ErrorCode), res.Message)
			}
			last = fmt.Errorf("%s: %w", m.KafkaAddr, err)
		}
		if last == nil {
			last = errors.New("no live member with a broker ID known yet")
		}
		b.log.Info("waiting to be admitted", "err", last, "retry_in", backoff)
		if err := b.sleep(ctx, backoff); err != nil {
			return joinResult{}, fmt.Errorf("joining: %w (last: %v)", err, last)
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}

// sendJoin sends one join request to the broker at addr.
func (b *Broker) sendJoin(ctx context.Context, addr string, jr joinRequest) (joinResult, error) {
	data, _ := json.Marshal(jr)
	req := kmsg.NewPtrEnvelopeRequest()
	req.RequestData, req.RequestPrincipal = data, []byte(joinPrincipal)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pc, err := b.dialPeer(rctx, addr)
	if err != nil {
		return joinResult{}, err
	}
	defer pc.close()
	resp, err := pc.do(rctx, b.env.Clock.Now(), req)
	if err != nil {
		return joinResult{}, err
	}
	return decodeJoinResult(resp.(*kmsg.EnvelopeResponse))
}

func decodeJoinResult(er *kmsg.EnvelopeResponse) (joinResult, error) {
	if er.ErrorCode != 0 {
		return joinResult{ErrorCode: er.ErrorCode, Message: kerr.ErrorForCode(er.ErrorCode).Error()}, nil
	}
	var res joinResult
	if err := json.Unmarshal(er.ResponseData, &res); err != nil {
		return joinResult{}, fmt.Errorf("bad join answer: %v", err)
	}
	return res, nil
}

// handleJoin answers a join request: the controller admits the broker;
// any other broker passes the request on to the controller.
func (b *Broker) handleJoin(ctx context.Context, req *kmsg.EnvelopeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.EnvelopeResponse)
	var jr joinRequest
	if err := json.Unmarshal(req.RequestData, &jr); err != nil || jr.ID < 0 || jr.Port <= 0 || jr.Port > 65535 || jr.RaftAddr == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if !b.node.IsLeader() {
		leader, ok := b.node.LeaderID()
		if !ok || leader == b.cfg.NodeID {
			resp.ErrorCode = kerr.NotController.Code
			return resp
		}
		fwd, err := b.peerRequest(ctx, leader, req)
		if err != nil {
			resp.ErrorCode = kerr.NotController.Code
			return resp
		}
		return fwd
	}
	res := b.ctrl.admit(ctx, jr)
	resp.ResponseData, _ = json.Marshal(res)
	return resp
}

// admit is the controller's side of a join: check the ID, allocate one if
// needed, and register the broker.
func (c *controllerShell) admit(ctx context.Context, jr joinRequest) joinResult {
	c.round.Lock()
	defer c.round.Unlock()
	st := c.b.node.State()
	nowMs := c.b.env.Clock.Now().UnixMilli()
	if !c.activeNow(st, nowMs) {
		return joinResult{ErrorCode: kerr.NotController.Code, Message: "not the controller"}
	}
	id := jr.ID
	if id == 0 {
		var err error
		if id, err = controller.NextBrokerID(st); err != nil {
			return joinResult{ErrorCode: kerr.InvalidRequest.Code, Message: err.Error()}
		}
	} else if br, ok := st.Brokers[id]; ok && c.alive(st, id, nowMs) && (br.Host != jr.Host || br.Port != jr.Port) {
		return joinResult{ErrorCode: kerr.DuplicateBrokerRegistration.Code,
			Message: fmt.Sprintf("broker %d is alive at %s", id, net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))))}
	}
	// A voter that lost its disk forgot its Raft log and its vote: it must
	// not vote again as if it remembered them. It leaves the voter set and
	// comes back as an observer; the controller adds it again once it has
	// caught up (voters.go), as a new voter.
	if servers, err := c.b.node.Servers(); err == nil && jr.LostLogs {
		if _, ok := servers[id]; ok && id != c.b.cfg.NodeID {
			if err := c.b.node.RemoveServer(ctx, id); err != nil {
				return joinResult{ErrorCode: kerr.NotController.Code, Message: err.Error()}
			}
			c.b.log.Warn("removed a voter that lost its disk from the metadata group", "broker", id)
		}
	}
	// Registered (fenced) before it is answered, so that the ID is taken;
	// the broker registers anew once it has the metadata.
	reg := cluster.RegisterBroker{Broker: cluster.Broker{ID: id, Host: jr.Host, Port: jr.Port, Rack: jr.Rack,
		RaftAddr: jr.RaftAddr, LostLogs: jr.LostLogs}}
	if err := c.b.node.Propose(ctx, reg); err != nil {
		return joinResult{ErrorCode: kerr.NotController.Code, Message: err.Error()}
	}
	c.b.log.Info("admitted broker", "broker", id, "raft", jr.RaftAddr, "kafka", net.JoinHostPort(jr.Host, strconv.Itoa(int(jr.Port))))
	return joinResult{ID: id, ClusterID: c.b.node.State().ClusterID}
}

// alive reports whether broker id's current registration has a live
// session with this controller.
func (c *controllerShell) alive(st *cluster.State, id int32, nowMs int64) bool {
	br, ok := st.Brokers[id]
	if !ok || br.Fenced {
		return false
	}
	silent, ok := c.silentMs(id, br.Epoch, nowMs)
	return ok && silent < c.b.brokerInt(st, "broker.session.timeout.ms")
}

// recordClusterID keeps the cluster ID in meta.properties and tells peers,
// once the metadata has it: a restarted broker then refuses to join
// another cluster.
func (b *Broker) recordClusterID(clusterID string) error {
	ident, err := readIdentity(b.env.FS, b.cfg.DataDir)
	if err != nil {
		return err
	}
	if ident.ClusterID == clusterID && ident.NodeID == b.cfg.NodeID {
		return nil
	}
	if ident.ClusterID != "" && ident.ClusterID != clusterID {
		return fmt.Errorf("data directory %s belongs to cluster %s, but this broker's metadata is of cluster %s; use an empty --data-dir", b.cfg.DataDir, ident.ClusterID, clusterID)
	}
	ident.NodeID, ident.ClusterID = b.cfg.NodeID, clusterID
	if err := writeIdentity(b.env.FS, b.cfg.DataDir, ident); err != nil {
		return fmt.Errorf("record cluster ID in %s: %w", b.cfg.DataDir, err)
	}
	b.updateMemberTags(clusterID, b.node.RaftAddr())
	return nil
}
