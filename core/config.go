package core

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jocko/jocko/cluster"
)

// Config is a broker's configuration. Every field has a default (Defaults);
// cmd/jocko maps each to a flag and a JOCKO_ environment variable.
type Config struct {
	// NodeID is this broker's ID; Kafka clients expect IDs from 1.
	NodeID int32
	// DataDir holds the partition logs and the Raft metadata log.
	DataDir string
	// ListenAddr is the Kafka listener, host:port.
	ListenAddr string
	// AdvertiseAddr is the address given to clients; default: the listener's
	// bound address.
	AdvertiseAddr string
	// RaftAddr is the metadata Raft listener, host:port.
	RaftAddr string
	// ClusterID names the cluster (Metadata v2+, DescribeCluster); generated
	// on first start when empty.
	ClusterID string
	// Rack is reported in Metadata.
	Rack string
	// Voters, when set, are the cluster's initial metadata voters (broker
	// ID -> Raft address, this broker among them), all bootstrapped with
	// the same set on first start. Empty: a cluster of one, bootstrapped
	// by this broker alone.
	Voters map[int32]string
	// ControllerVoters is how many brokers vote in the metadata Raft group
	// (1, 3 or 5): the controller promotes brokers as they join and
	// replaces a voter that is gone too long. 0: 3, or the number of
	// Voters when they are set.
	ControllerVoters int

	// Membership starts this broker's gossip membership (Serf in
	// production, see cmd/jocko): local is this broker as its peers will
	// see it, snapshotDir a directory where membership may keep what it
	// knows, so that a restart rejoins by itself. Nil: no gossip; the
	// cluster is the one Voters (or this broker alone) make.
	Membership func(local cluster.Member, snapshotDir string) (cluster.Membership, error)
	// Join lists gossip addresses (host:port) of members of the cluster
	// to join on first start; it needs Membership. A broker with no
	// metadata of its own joins through them: it gets a broker ID from the
	// controller (unless NodeID pins one) and the metadata log.
	Join []string
	// GossipAddr is the membership listener, host:port; default: the Kafka
	// port plus two.
	GossipAddr string
	// RaftTimeout is the metadata Raft's heartbeat and election timeout
	// (0: cluster's default, 500 ms); the simulator draws it per seed.
	RaftTimeout time.Duration

	// RequestBytesMax bounds one request frame (socket.request.max.bytes).
	RequestBytesMax int32
	// InFlightMax bounds the requests one connection may have in flight.
	InFlightMax int

	// Metrics hears request latencies, error codes and fsyncs (see
	// Metrics); nil: nothing is measured on those paths.
	Metrics Metrics

	// Defaults holds broker-level settings in Kafka's names (for example
	// "auto.create.topics.enable", "num.partitions", "log.retention.ms").
	// Unknown names are rejected by Validate; topics inherit log.* values.
	Defaults map[string]string
}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = filepath.Join(".", "jocko-data")
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:9092"
	}
	if c.RaftAddr == "" {
		c.RaftAddr = portPlus(c.ListenAddr, 1, "127.0.0.1:9093")
	}
	if c.GossipAddr == "" {
		c.GossipAddr = portPlus(c.ListenAddr, 2, "127.0.0.1:9094")
	}
	if c.RequestBytesMax == 0 {
		c.RequestBytesMax = 100 << 20
	}
	if c.InFlightMax == 0 {
		c.InFlightMax = 64
	}
	return c
}

// portPlus puts Raft (plus one) and gossip (plus two) next to the Kafka
// port, on the same host, so that brokers on one machine need only
// distinct --listen addresses; a Kafka port of 0 gives port 0 (any free
// port), and an unparsable listener gives def.
func portPlus(listen string, plus int, def string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return def
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(p+plus))
}

// Validate reports the first setting that is wrong, saying what is expected.
func (c Config) Validate() error {
	if c.NodeID < 0 {
		return fmt.Errorf("node id %d: must be 1 or more (or unset, for an ID from the cluster)", c.NodeID)
	}
	switch c.ControllerVoters {
	case 0, 1, 3, 5:
	default:
		return fmt.Errorf("controller voters %d: want 1, 3 or 5 (an odd quorum of at most 5)", c.ControllerVoters)
	}
	if len(c.Join) > 0 && c.Membership == nil {
		return fmt.Errorf("join %v: this broker has no gossip membership to join with", c.Join)
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return fmt.Errorf("join address %q: want HOST:PORT of a member's gossip listener (its Kafka port plus 2 unless --gossip-listen says otherwise) (%v)", j, err)
		}
	}
	if len(c.Join) > 0 && len(c.Voters) > 0 {
		return fmt.Errorf("join and static voters exclude each other: a joining broker gets its voters from the cluster")
	}
	for _, a := range []struct{ name, v string }{{"listen", c.ListenAddr}, {"raft", c.RaftAddr}, {"gossip", c.GossipAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%s address %q: want HOST:PORT (%v)", a.name, a.v, err)
		}
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("advertise address %q: want HOST:PORT (%v)", c.AdvertiseAddr, err)
		}
	}
	if c.RequestBytesMax < 1024 {
		return fmt.Errorf("request bytes max %d: must be at least 1024", c.RequestBytesMax)
	}
	if c.InFlightMax < 1 {
		return fmt.Errorf("in-flight max %d: must be at least 1", c.InFlightMax)
	}
	for k, v := range c.Defaults {
		if err := validateBrokerConfig(k, v); err != nil {
			return err
		}
	}
	return nil
}
