package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	jio "github.com/jocko/jocko/io"
)

var _ raft.StreamLayer = (*streamLayer)(nil)

// streamLayer carries raft's transport over a jio.Network: Accept comes
// from a jio listener, Dial goes through Network.DialContext, and Addr
// reports the advertised address (which raft hands to its peers).
type streamLayer struct {
	net.Listener
	network   jio.Network
	advertise net.Addr
}

// Addr implements net.Listener with the advertised address.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.network.DialContext(ctx, "tcp", string(address))
}

// tcpAddr is a net.Addr for an advertised "host:port".
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// newRaftLogger returns an hclog.Logger for hashicorp/raft that forwards
// warnings and errors to log and drops the rest.
func newRaftLogger(log *slog.Logger) hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:   "raft",
		Output: io.Discard,
		Level:  hclog.Off,
	})
	l.RegisterSink(slogSink{log})
	return l
}

// slogSink is an hclog.SinkAdapter writing to a slog.Logger at Warn+.
type slogSink struct{ log *slog.Logger }

// Accept implements hclog.SinkAdapter.
func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	var lv slog.Level
	switch {
	case level >= hclog.Error:
		lv = slog.LevelError
	case level == hclog.Warn:
		lv = slog.LevelWarn
	default:
		return
	}
	s.log.Log(context.Background(), lv, msg, append([]any{"component", name}, args...)...)
}
