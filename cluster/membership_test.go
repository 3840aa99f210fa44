package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"pgregory.net/rapid"
)

func TestMembershipTagsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := rapid.StringMatching(`[a-z0-9.:-]{0,20}`)
		m := Member{
			ID:        rapid.Int32Min(0).Draw(t, "id"),
			Name:      rapid.StringMatching(`jocko-[a-z0-9]{1,8}`).Draw(t, "name"),
			ClusterID: text.Draw(t, "cluster"),
			KafkaAddr: text.Draw(t, "kafka"),
			RaftAddr:  text.Draw(t, "raft"),
			Rack:      text.Draw(t, "rack"),
		}
		tags := MemberTags(m)
		for k, v := range tags {
			if v == "" {
				t.Fatalf("tag %s is empty; empty fields must be left out", k)
			}
		}
		got, err := MemberFromTags(m.Name, tags)
		if err != nil {
			t.Fatalf("MemberFromTags(%v): %v", tags, err)
		}
		if got != m {
			t.Fatalf("round trip: got %+v, want %+v", got, m)
		}
	})
}

func TestMembershipTagsRejectBadID(t *testing.T) {
	for _, tags := range []map[string]string{
		{},                            // not a jocko member
		{"id": "x"},                   // not a number
		{"id": "-1"},                  // negative
		{"id": "4294967296"},          // beyond int32
		{"cluster_id": "c", "id": ""}, // empty
	} {
		if m, err := MemberFromTags("n", tags); err == nil {
			t.Errorf("MemberFromTags(%v) = %+v, want an error", tags, m)
		}
	}
	m, err := MemberFromTags("n", map[string]string{"id": "3", "other": "ignored"})
	if err != nil || m != (Member{ID: 3, Name: "n"}) {
		t.Errorf("MemberFromTags with an unknown tag = %+v, %v", m, err)
	}
}

func TestMembershipClusterConflict(t *testing.T) {
	ms := func(ids ...string) []Member {
		var out []Member
		for _, id := range ids {
			out = append(out, Member{ClusterID: id})
		}
		return out
	}
	for _, tc := range []struct {
		local  string
		others []Member
		want   string
		at     int
	}{
		{"a", ms("a", "", "a"), "a", -1},
		{"a", ms("", "b"), "a", 1},
		{"", ms("", "b", "b"), "b", -1}, // a member without a cluster joins any
		{"", ms("b", "", "c"), "b", 2},  // but not two at once
		{"", nil, "", -1},
	} {
		want, at := clusterConflict(tc.local, tc.others)
		if want != tc.want || at != tc.at {
			t.Errorf("clusterConflict(%q, %v) = %q, %d; want %q, %d", tc.local, tc.others, want, at, tc.want, tc.at)
		}
	}
}

func TestMembershipNameConflictMessage(t *testing.T) {
	e := &NameConflictError{ID: 4, Name: "jocko-4", Addr: "10.0.0.1:9094"}
	if got, want := e.Error(), "cluster: broker ID 4 is already in use by a live broker at 10.0.0.1:9094"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &NameConflictError{Name: "jocko-tmp", Addr: "10.0.0.1:9094"}
	if got := e.Error(); !strings.Contains(got, `"jocko-tmp" is already in use`) {
		t.Errorf("without an ID: %q", got)
	}
}

func TestMembershipKindAndStatusNames(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventJoin: "join", EventUpdate: "update", EventFail: "fail", EventLeave: "leave", EventReap: "reap", 9: "EventKind(9)",
	} {
		if k.String() != want {
			t.Errorf("EventKind %d: %q, want %q", k, k.String(), want)
		}
	}
	for s, want := range map[MemberStatus]string{
		StatusAlive: "alive", StatusFailed: "failed", StatusLeft: "left", 9: "MemberStatus(9)",
	} {
		if s.String() != want {
			t.Errorf("MemberStatus %d: %q, want %q", s, s.String(), want)
		}
	}
}

// TestMembershipJoinBackoff drives retryJoin on a mock clock: waits between
// attempts start at 200ms and double up to 5s.
func TestMembershipJoinBackoff(t *testing.T) {
	mock := clock.NewMock()
	const attemptsMax = 9
	var mu sync.Mutex // guards at
	var at []time.Time
	attempt := func() (error, bool) {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, mock.Now())
		if len(at) == attemptsMax {
			return nil, false
		}
		return errors.New("refused"), false
	}
	done := make(chan error, 1)
	go func() { done <- retryJoin(context.Background(), mock, []string{"h:1"}, attempt) }()
	const step = 50 * time.Millisecond
	for waited := time.Duration(0); ; waited += step {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("retryJoin: %v", err)
			}
			want := []time.Duration{200, 400, 800, 1600, 3200, 5000, 5000, 5000}
			mu.Lock()
			defer mu.Unlock()
			for i, w := range want {
				gap := at[i+1].Sub(at[i])
				// The driver may advance once before the timer is set.
				if w *= time.Millisecond; gap < w || gap > w+step {
					t.Errorf("wait before attempt %d: %v, want %v", i+2, gap, w)
				}
			}
			return
		default:
		}
		if waited > time.Minute {
			t.Fatalf("retryJoin still running after a virtual minute")
		}
		mock.Add(step) // yields to the retry goroutine
	}
}

func TestMembershipJoinStops(t *testing.T) {
	permanent := errors.New("wrong cluster")
	calls := 0
	err := retryJoin(context.Background(), clock.New(), []string{"h:1"}, func() (error, bool) {
		calls++
		return permanent, true
	})
	if err != permanent || calls != 1 {
		t.Errorf("a permanent error: got %v after %d calls, want it at once", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	err = retryJoin(ctx, clock.New(), []string{"h:1", "h:2"}, func() (error, bool) {
		cancel()
		return errors.New("connection\n\trefused"), false
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "h:1, h:2") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Errorf("after ctx ended: %v", err)
	}
}
