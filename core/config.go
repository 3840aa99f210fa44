package core

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
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

	// RequestBytesMax bounds one request frame (socket.request.max.bytes).
	RequestBytesMax int32
	// InFlightMax bounds the requests one connection may have in flight.
	InFlightMax int

	// Defaults holds broker-level settings in Kafka's names (for example
	// "auto.create.topics.enable", "num.partitions", "log.retention.ms").
	// Unknown names are rejected by Validate; topics inherit log.* values.
	Defaults map[string]string
}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.NodeID == 0 {
		c.NodeID = 1
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(".", "jocko-data")
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:9092"
	}
	if c.RaftAddr == "" {
		c.RaftAddr = defaultRaftAddr(c.ListenAddr)
	}
	if c.RequestBytesMax == 0 {
		c.RequestBytesMax = 100 << 20
	}
	if c.InFlightMax == 0 {
		c.InFlightMax = 64
	}
	return c
}

// defaultRaftAddr puts Raft on the Kafka port plus one, on the same host; a
// Kafka port of 0 gives a Raft port of 0 (any free port).
func defaultRaftAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "127.0.0.1:9093"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
}

// Validate reports the first setting that is wrong, saying what is expected.
func (c Config) Validate() error {
	if c.NodeID < 1 {
		return fmt.Errorf("node id %d: must be 1 or more", c.NodeID)
	}
	for _, a := range []struct{ name, v string }{{"listen", c.ListenAddr}, {"raft", c.RaftAddr}} {
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
