package main

// A recording proxy: which API versions each client really sends.

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// cgProxy sits between the clients and the broker (which advertises the
// proxy's address) and records the API versions each client ID sends.
type cgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	seen   map[string]map[int16]map[int16]bool // client ID → API key → versions
	conns  map[net.Conn]bool
}

// startProxiedBroker starts a broker that clients reach through a cgProxy.
func startProxiedBroker(t *testing.T, extra ...string) (*proc, *cgProxy) {
	t.Helper()
	px := &cgProxy{seen: map[string]map[int16]map[int16]bool{}, conns: map[net.Conn]bool{}}
	var err error
	if px.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px.target = free.Addr().String()
	free.Close()
	go px.serve()
	t.Cleanup(px.close)
	b := startBroker(t, "", append(append([]string{}, extra...), "--listen", px.target, "--raft-listen", "127.0.0.1:0", "--advertise", px.ln.Addr().String())...)
	return b, px
}

func (px *cgProxy) close() {
	px.ln.Close()
	px.mu.Lock()
	defer px.mu.Unlock()
	for c := range px.conns {
		c.Close()
	}
	px.conns = nil
}

func (px *cgProxy) track(c net.Conn, on bool) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if on && px.conns == nil {
		return false
	}
	if on {
		px.conns[c] = true
	} else {
		delete(px.conns, c)
	}
	return true
}

func (px *cgProxy) serve() {
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		go px.pipe(c)
	}
}

func (px *cgProxy) pipe(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", px.target)
	if err != nil {
		return
	}
	defer s.Close()
	if !px.track(c, true) || !px.track(s, true) {
		return
	}
	defer px.track(c, false)
	defer px.track(s, false)
	go func() {
		io.Copy(c, s)
		c.Close()
	}()
	r := bufio.NewReader(c)
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n < 0 || n > 64<<20 {
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if n >= 10 {
			key := int16(binary.BigEndian.Uint16(body[0:]))
			ver := int16(binary.BigEndian.Uint16(body[2:]))
			id := ""
			if l := int(int16(binary.BigEndian.Uint16(body[8:]))); l > 0 && 10+l <= n {
				id = string(body[10 : 10+l])
			}
			px.record(id, key, ver)
		}
		if _, err := s.Write(append(size[:], body...)); err != nil {
			return
		}
	}
}

func (px *cgProxy) record(id string, key, ver int16) {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.seen[id] == nil {
		px.seen[id] = map[int16]map[int16]bool{}
	}
	if px.seen[id][key] == nil {
		px.seen[id][key] = map[int16]bool{}
	}
	px.seen[id][key][ver] = true
}

// versions returns, per API key, the versions sent by client IDs with the
// prefix.
func (px *cgProxy) versions(prefix string) map[int16][]int16 {
	px.mu.Lock()
	defer px.mu.Unlock()
	set := map[int16]map[int16]bool{}
	for id, keys := range px.seen {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		for k, vs := range keys {
			if set[k] == nil {
				set[k] = map[int16]bool{}
			}
			for v := range vs {
				set[k][v] = true
			}
		}
	}
	out := map[int16][]int16{}
	for k, vs := range set {
		for v := range vs {
			out[k] = append(out[k], v)
		}
		sort.Slice(out[k], func(i, j int) bool { return out[k][i] < out[k][j] })
	}
	return out
}

// describe formats versions(prefix) as "JoinGroup v5, SyncGroup v3, ...".
func (px *cgProxy) describe(prefix string) string {
	vs := px.versions(prefix)
	var keys []int
	for k := range vs {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		var s []string
		for _, v := range vs[int16(k)] {
			s = append(s, "v"+strconv.Itoa(int(v)))
		}
		parts = append(parts, kmsg.NameForKey(int16(k))+" "+strings.Join(s, "/"))
	}
	return strings.Join(parts, ", ")
}
