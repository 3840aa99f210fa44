package core

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Controlled shutdown, as Kafka's: before it stops, a broker asks the
// controller (heartbeats with WantShutdown) to move its leaderships to
// other ISR members and take it out of the ISRs, and waits until the
// metadata shows it leads nothing. Clients see NOT_LEADER_OR_FOLLOWER
// with the new leader and retry there, so a rolling restart fails no send.
// Cancelling Run's context without Shutdown is a hard stop, as a crash.

// shutdownPoll is how often Shutdown heartbeats while it waits.
const shutdownPoll = 100 * time.Millisecond

// shutdownLinger is how long a broker that has handed its leaderships over
// keeps serving before it stops (Shutdown).
const shutdownLinger = time.Second

// shutdownNoControllerMax is how long Shutdown keeps trying when no
// controller answers (the last brokers of a cluster being stopped: the
// metadata quorum is gone, and nobody could take the leaderships anyway).
const shutdownNoControllerMax = 3 * time.Second

// Shutdown runs the controlled shutdown and returns once this broker leads
// no partition, or when ctx ends (the caller then stops the broker anyway;
// its partitions fail over as after a crash). The broker keeps serving
// until Run's context is cancelled; call Shutdown first.
func (b *Broker) Shutdown(ctx context.Context) error {
	select {
	case <-b.ready:
	default:
		return nil // not serving yet: nothing to hand over
	}
	b.shuttingDown.Store(true)
	b.log.Info("controlled shutdown: moving leadership away")
	var unanswered time.Duration
	for {
		resp, err := b.sendHeartbeat(ctx, b.epoch, true)
		switch {
		case err == nil && resp.ErrorCode == 0 && resp.ShouldShutdown:
			b.log.Info("controlled shutdown: this broker leads nothing now")
			if liveBrokers(b.node.State()) > 1 {
				// Still serving, so that clients hear NOT_LEADER_OR_FOLLOWER
				// and move to the new leaders before the connections are
				// cut: a request cut unanswered as the first on its
				// connection fails for good in franz-go (an immediate EOF
				// looks like missing SASL to it, and it does not retry).
				b.sleep(ctx, shutdownLinger)
			}
			return nil
		case err == nil && resp.ErrorCode == kerr.StaleBrokerEpoch.Code:
			return nil // a newer incarnation registered: nothing of ours to move
		case err != nil || resp.ErrorCode != 0:
			if unanswered += shutdownPoll; unanswered >= shutdownNoControllerMax {
				b.log.Warn("controlled shutdown: no controller answers; stopping anyway", "err", err)
				return err
			}
		default:
			unanswered = 0
		}
		if err := b.sleep(ctx, shutdownPoll); err != nil {
			b.log.Warn("controlled shutdown did not complete; stopping anyway", "err", err)
			return err
		}
	}
}

// logDirFailed handles a failed log directory (KIP-112): Jocko keeps one,
// so the broker can store nothing more. Its heartbeats ask the controller
// to fence it (WantFence), which moves every leadership it holds to another
// ISR member and takes it out of the ISRs, instead of leaving its
// partitions offline until an operator restarts it. A restart (after the
// disk is fixed) registers anew.
func (b *Broker) logDirFailed(err error) {
	if b.dirFailed.CompareAndSwap(false, true) {
		b.log.Error("log directory failed: asking the controller to fence this broker so that its leaderships move; restart it once the disk is fixed", "err", err)
	}
}
