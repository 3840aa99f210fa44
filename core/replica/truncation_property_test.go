package replica

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Replicas live through random leader elections (clean or not), appends,
// follower fetches and crashes that lose a log's tail. A log is the epoch of
// each record from offset 0; a record is identified by (offset, epoch),
// since only that epoch's leader writes records of it. Before fetching from
// a new leader, a follower truncates with Truncation against the leader's
// OffsetForLeaderEpoch answers: afterwards its log must be a prefix of the
// leader's, and exactly the longest common one (nothing the two agree on is
// dropped).

type node struct {
	log    []int32
	epochs []EpochEntry
	synced bool // truncated against the current leader
}

// add appends records of epoch e, keeping the epoch cache as Kafka's
// assign does.
func (n *node) add(t *rapid.T, e int32, count int) {
	for range count {
		if latest, ok := LatestEpoch(n.epochs); !ok || latest != e {
			if ok && e < latest {
				t.Fatalf("record of epoch %d after epoch %d", e, latest)
			}
			n.epochs = append(n.epochs, EpochEntry{Epoch: e, StartOffset: int64(len(n.log))})
		}
		n.log = append(n.log, e)
	}
}

func (n *node) truncate(offset int64) {
	n.log = n.log[:min(offset, int64(len(n.log)))]
	n.epochs = TruncateEpochs(n.epochs, offset)
}

type history struct {
	nodes  []*node
	leader int
	epoch  int32
}

func (h *history) elect(t *rapid.T) {
	h.leader = rapid.IntRange(0, len(h.nodes)-1).Draw(t, "leader")
	h.epoch++
	l := h.nodes[h.leader]
	// maybeAssignEpochStartOffset: the new epoch starts at the log end.
	l.epochs = append(l.epochs, EpochEntry{Epoch: h.epoch, StartOffset: int64(len(l.log))})
	for i, n := range h.nodes {
		n.synced = i == h.leader
	}
}

func (h *history) produce(t *rapid.T) {
	h.nodes[h.leader].add(t, h.epoch, rapid.IntRange(1, 4).Draw(t, "records"))
}

func (h *history) follow(t *rapid.T) {
	i := rapid.IntRange(0, len(h.nodes)-1).Draw(t, "follower")
	f, l := h.nodes[i], h.nodes[h.leader]
	if i == h.leader {
		return
	}
	if !f.synced {
		asked := 0
		ask := func(epoch int32) (int32, int64, error) {
			asked++
			e, o := endOffsetFor(l.epochs, epoch, int64(len(l.log)))
			return e, o, nil
		}
		before := slices.Clone(f.log)
		offset, err := Truncation(f.epochs, int64(len(f.log)), 0, ask)
		if err != nil {
			t.Fatal(err)
		}
		if offset > int64(len(f.log)) || offset < 0 {
			t.Fatalf("truncation to %d of a log of %d", offset, len(f.log))
		}
		if want := commonPrefix(f.log, l.log); offset != want {
			t.Fatalf("follower %v truncates to %d against leader %v (epochs %v vs %v, %d questions); common prefix %d",
				before, offset, l.log, f.epochs, l.epochs, asked, want)
		}
		f.truncate(offset)
		f.synced = true
	}
	if len(f.log) > len(l.log) || !slices.Equal(f.log, l.log[:len(f.log)]) {
		t.Fatalf("follower log %v is not a prefix of the leader's %v", f.log, l.log)
	}
	n := rapid.IntRange(0, len(l.log)-len(f.log)).Draw(t, "fetch")
	for _, e := range l.log[len(f.log) : len(f.log)+n] {
		f.add(t, e, 1)
	}
}

// crash loses a random tail of a replica's log; a crashed leader loses its
// leadership.
func (h *history) crash(t *rapid.T) {
	i := rapid.IntRange(0, len(h.nodes)-1).Draw(t, "crashed")
	n := h.nodes[i]
	n.truncate(rapid.Int64Range(0, int64(len(n.log))).Draw(t, "kept"))
	n.synced = false
	if i == h.leader {
		h.elect(t)
	}
}

func commonPrefix(a, b []int32) int64 {
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	return int64(k)
}

func TestTruncationProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := &history{}
		for range rapid.IntRange(2, 4).Draw(t, "replicas") {
			h.nodes = append(h.nodes, &node{})
		}
		h.elect(t)
		t.Repeat(map[string]func(*rapid.T){
			"elect":   h.elect,
			"produce": h.produce,
			"follow":  h.follow,
			"follow2": h.follow,
			"crash":   h.crash,
		})
	})
}
