package group

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// client is the model of one consumer process: what it learned from the
// coordinator's answers.
type client struct {
	name     string
	instance *string
	memberID string
	gen      int32
	leader   bool
	members  []string // the leader's view of the generation
	next     string   // what a well-behaved consumer does next: join, sync, heartbeat
}

// sent remembers what a held handle was, to read its answer later.
type sent struct {
	c    *client
	kind string
	gen  int32
}

// model drives random request sequences through a Groups and checks the
// answers against what the clients can know.
type model struct {
	x        *tester
	clients  []*client
	sent     map[Handle]sent
	seen     map[Handle]bool
	issued   map[string]bool           // every member id the coordinator handed out
	owner    map[int32]map[byte]string // generation -> partition -> owner
	assigned map[int32]bool            // generations whose leader's sync succeeded
	lastGen  int32
	lastG    *Group
}

const partitions = 6

func newModel(t *rapid.T) *model {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelayMs = int32(rapid.SampledFrom([]int{0, 3000}).Draw(t, "delay"))
	cfg.GroupSizeMax = int32(rapid.IntRange(0, 4).Draw(t, "maxSize"))
	m := &model{x: newTester(t, cfg), sent: map[Handle]sent{}, seen: map[Handle]bool{}, issued: map[string]bool{},
		owner: map[int32]map[byte]string{}, assigned: map[int32]bool{}}
	for i := 0; i < 4; i++ {
		c := &client{name: fmt.Sprintf("c%d", i)}
		if i%2 == 1 {
			inst := fmt.Sprintf("inst%d", i)
			c.instance = &inst
		}
		m.clients = append(m.clients, c)
	}
	return m
}

func (m *model) client(t *rapid.T) *client {
	return rapid.SampledFrom(m.clients).Draw(t, "client")
}

// step has a random client do what a real consumer would do next.
func (m *model) step(t *rapid.T) {
	c := m.client(t)
	switch c.next {
	case "sync":
		m.syncAs(t, c)
	case "heartbeat":
		if ec := m.x.heartbeat(c.memberID, c.instance, c.gen); ec != 0 {
			c.next = ""
			if ec != 27 {
				c.memberID = ""
			}
		}
	case "wait":
	default:
		m.joinAs(t, c)
	}
}

func (m *model) join(t *rapid.T) { m.joinAs(t, m.client(t)) }

func (m *model) joinAs(t *rapid.T, c *client) {
	c.next = "wait"
	id := c.memberID
	if rapid.IntRange(0, 9).Draw(t, "forget") == 0 {
		id = ""
	}
	topics := rapid.SampledFrom([][]string{{"t"}, {"t"}, {"t", "u"}}).Draw(t, "topics")
	req := joinReq(id, c.instance, topics...)
	req.Version = int16(rapid.SampledFrom([]int{3, 4, 5, 9}).Draw(t, "version"))
	if req.Version < 5 {
		req.InstanceID = nil
	}
	req.SessionTimeoutMillis = int32(rapid.SampledFrom([]int{5000, 6000, 10000}).Draw(t, "session"))
	req.RebalanceTimeoutMillis = int32(rapid.SampledFrom([]int{0, 8000, 20000}).Draw(t, "rebalance"))
	h := m.x.handle()
	m.sent[h] = sent{c: c, kind: "join"}
	m.x.take(m.x.gs.Join(m.x.now, h, Client{ID: c.name}, req))
}

func (m *model) sync(t *rapid.T) { m.syncAs(t, m.client(t)) }

func (m *model) syncAs(t *rapid.T, c *client) {
	c.next = "wait"
	var assign map[string][]byte
	if c.leader {
		assign = map[string][]byte{}
		for p := 0; p < partitions; p++ {
			id := c.members[p%len(c.members)]
			assign[id] = append(assign[id], byte(p))
		}
	}
	h := m.x.handle()
	m.sent[h] = sent{c: c, kind: "sync", gen: c.gen}
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version, r.Group, r.MemberID, r.InstanceID, r.Generation = 5, testGroup, c.memberID, c.instance, c.gen
	for id, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: a})
	}
	m.x.take(m.x.gs.Sync(m.x.now, h, r))
}

func (m *model) heartbeat(t *rapid.T) {
	c := m.client(t)
	ec := m.x.heartbeat(c.memberID, c.instance, c.gen)
	if (ec == 25 || ec == 82) && rapid.Bool().Draw(t, "reset") {
		c.memberID, c.leader = "", false
	}
}

func (m *model) leave(t *rapid.T) {
	c := m.client(t)
	id := c.memberID
	if c.instance != nil && rapid.Bool().Draw(t, "byInstance") {
		id = ""
	}
	m.x.leave(leaving(id, c.instance))
	c.memberID, c.leader, c.next = "", false, ""
}

func (m *model) commit(t *rapid.T) {
	c := m.client(t)
	gen := c.gen
	if rapid.IntRange(0, 4).Draw(t, "simple") == 0 {
		gen = -1
	}
	r := commitReq(8, c.memberID, gen, "t", 0, int64(m.x.now))
	r.InstanceID = c.instance
	m.x.commit(r)
}

// stranger sends requests with a member id the coordinator never issued:
// they must all fail with UNKNOWN_MEMBER_ID.
func (m *model) stranger(t *rapid.T) {
	id := "stranger-" + rapid.StringMatching(`[a-z]{1,3}`).Draw(t, "id")
	if m.issued[id] {
		return
	}
	gen := int32(rapid.IntRange(0, 5).Draw(t, "gen"))
	if ec := m.x.heartbeat(id, nil, gen); ec != 25 {
		t.Fatalf("heartbeat of unissued member: %d", ec)
	}
	if ec := m.x.commit(commitReq(8, id, gen, "t", 0, 1)); ec != 25 && ec != 22 && ec != 69 {
		t.Fatalf("commit of unissued member: %d", ec)
	}
}

func (m *model) tick(t *rapid.T) {
	ms := rapid.SampledFrom([]int{0, 1000, 3000, 5000, 40000}).Draw(t, "ms")
	m.x.tick(m.x.now + int64(ms))
}

func (m *model) tickToDeadline(t *rapid.T) {
	if d, ok := m.x.gs.NextDeadline(); ok {
		m.x.tick(max(d, m.x.now))
	}
}

func (m *model) expire(t *rapid.T) {
	m.x.take(m.x.gs.ExpireOffsets(m.x.now))
}
