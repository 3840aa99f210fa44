package replica

import (
	"errors"
	"slices"
	"testing"
)

// epochsOf is the epoch cache of a log given as the epoch of each record
// from offset 0, plus the current leader epoch's entry at the log end when
// current is above the last record's epoch (Kafka's
// maybeAssignEpochStartOffset on becoming leader).
func epochsOf(log []int32, current int32) []EpochEntry {
	var es []EpochEntry
	for off, e := range log {
		if len(es) == 0 || es[len(es)-1].Epoch != e {
			es = append(es, EpochEntry{Epoch: e, StartOffset: int64(off)})
		}
	}
	if latest, ok := LatestEpoch(es); current >= 0 && (!ok || current > latest) {
		es = append(es, EpochEntry{Epoch: current, StartOffset: int64(len(log))})
	}
	return es
}

// leaderAnswers answers OffsetForLeaderEpoch from a leader's log, and
// records the epochs asked.
func leaderAnswers(log []int32, current int32, asked *[]int32) func(int32) (int32, int64, error) {
	return func(epoch int32) (int32, int64, error) {
		*asked = append(*asked, epoch)
		e, o := endOffsetFor(epochsOf(log, current), epoch, int64(len(log)))
		return e, o, nil
	}
}

// KIP-101 and KIP-279: a follower truncates to where its log and the new
// leader's agree, asking again when the leader answers an epoch it lacks.
func TestTruncation(t *testing.T) {
	tests := []struct {
		name             string
		follower, leader []int32 // epochs of the records at offsets 0, 1, ...
		leaderEpoch      int32
		hw               int64
		want             int64
		wantAsked        []int32
	}{
		{"a prefix of the leader: nothing", []int32{1, 1}, []int32{1, 1, 1, 2}, 2, 0, 2, []int32{1}},
		{"behind, all epochs known: nothing", []int32{1, 1, 2}, []int32{1, 1, 2, 2, 3}, 3, 0, 3, []int32{2}},
		{"KIP-101: diverged in the last epoch", []int32{1, 1}, []int32{1, 2}, 2, 0, 1, []int32{1}},
		{"ahead in the same epoch (the leader lost an unflushed tail)", []int32{1, 1, 1, 1}, []int32{1, 1}, 2, 0, 2, []int32{1}},
		{"an epoch only the follower has, its earlier epoch known", []int32{1, 1, 2, 2}, []int32{1, 1, 1, 3}, 3, 0, 2, []int32{2}},
		{"KIP-279: the leader answers an epoch the follower lacks", []int32{1, 3, 3}, []int32{1, 2, 2, 4}, 4, 0, 1, []int32{3, 1}},
		{"KIP-279: two rounds down to an empty agreement", []int32{2, 5, 5}, []int32{1, 3, 4}, 6, 0, 0, []int32{5, 2}},
		{"an empty log", nil, []int32{1, 1}, 2, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []int32
			got, err := Truncation(epochsOf(tt.follower, -1), int64(len(tt.follower)), tt.hw, leaderAnswers(tt.leader, tt.leaderEpoch, &asked))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !slices.Equal(asked, tt.wantAsked) {
				t.Fatalf("truncate to %d after asking %v, want %d after %v", got, asked, tt.want, tt.wantAsked)
			}
		})
	}
}

// The answers Kafka's getOffsetTruncationState treats specially.
func TestTruncationStep(t *testing.T) {
	local := []EpochEntry{{3, 5}, {4, 7}}
	tests := []struct {
		name        string
		leaderEpoch int32
		leaderEnd   int64
		want        int64
		wantDone    bool
	}{
		{"unknown offset: back to the high watermark", Undefined, Undefined, 6, true},
		{"v0 answer without an epoch: the leader's offset", Undefined, 8, 8, true},
		{"v0 answer beyond our end", Undefined, 12, 10, true},
		{"an epoch above all of ours: the leader's offset", 9, 8, 8, true},
		{"an epoch below all of ours: our first epoch's start", 2, 6, 5, true},
		{"our latest epoch", 4, 9, 9, true},
		{"our earlier epoch", 3, 9, 7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, done := TruncationStep(local, 10, 6, tt.leaderEpoch, tt.leaderEnd)
			if got != tt.want || done != tt.wantDone {
				t.Fatalf("TruncationStep = %d, %v; want %d, %v", got, done, tt.want, tt.wantDone)
			}
		})
	}
	// An epoch we lack with one of ours below it: cut back and ask again.
	local = []EpochEntry{{1, 0}, {3, 4}, {5, 6}}
	if got, done := TruncationStep(local, 8, 0, 4, 7); got != 6 || done {
		t.Fatalf("TruncationStep = %d, %v; want 6, false", got, done)
	}
	if got, done := TruncationStep(local, 8, 0, 2, 7); got != 4 || done {
		t.Fatalf("TruncationStep = %d, %v; want 4, false", got, done)
	}
}

func TestTruncationAskFails(t *testing.T) {
	boom := errors.New("boom")
	_, err := Truncation([]EpochEntry{{1, 0}}, 3, 0, func(int32) (int32, int64, error) { return 0, 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if got, err := Truncation(nil, 3, 2, nil); got != 2 || err != nil {
		t.Fatalf("empty cache: %d %v, want the high watermark 2", got, err)
	}
}

func TestEndOffsetFor(t *testing.T) {
	es := []EpochEntry{{2, 0}, {4, 5}, {7, 9}}
	for _, tt := range []struct {
		req       int32
		wantEpoch int32
		wantEnd   int64
	}{
		{Undefined, Undefined, Undefined},
		{1, 1, 0},
		{2, 2, 5},
		{3, 2, 5},
		{4, 4, 9},
		{6, 4, 9},
		{7, 7, 12},
		{8, Undefined, Undefined},
	} {
		if e, o := endOffsetFor(es, tt.req, 12); e != tt.wantEpoch || o != tt.wantEnd {
			t.Errorf("endOffsetFor(%d) = %d, %d; want %d, %d", tt.req, e, o, tt.wantEpoch, tt.wantEnd)
		}
	}
	if got := TruncateEpochs(es, 5); !slices.Equal(got, es[:1]) {
		t.Errorf("TruncateEpochs(5) = %v", got)
	}
	if got := TruncateEpochs(es, 6); !slices.Equal(got, es[:2]) {
		t.Errorf("TruncateEpochs(6) = %v", got)
	}
}
