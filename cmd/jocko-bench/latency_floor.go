package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// The floor of the -latency benchmark: what an acknowledged, fsynced write
// costs on this machine with no broker at all. A minimal server on loopback
// appends each frame (a record's size) to a file and answers it after a
// group-commit fsync; a client sends frames at the benchmark's rate and
// times each answer. Every acks=all produce does at least this work (a
// loopback round trip, a write, an fsync, two goroutine hand-offs), so no
// broker can beat this figure here, and a goal this floor itself misses is
// the machine's, not the broker's.

// floorServer answers each frameLen-byte frame from one connection with
// its 8-byte sequence number once an fsync covered it.
type floorServer struct {
	f        *os.File
	c        net.Conn
	frameLen int

	mu      sync.Mutex // guards written and synced
	cond    *sync.Cond // signalled when written grows or the reader stops
	written uint64     // frames written to f
	synced  uint64     // frames an fsync covered and that were answered
	done    bool       // the reader stopped
}

// serve reads frames and hands them to the syncer until the client goes.
func (s *floorServer) serve() error {
	var wg sync.WaitGroup
	wg.Add(1)
	var syncErr error
	go func() {
		defer wg.Done()
		syncErr = s.syncLoop()
	}()
	buf := make([]byte, s.frameLen)
	var err error
	for {
		if _, err = io.ReadFull(s.c, buf); err != nil {
			break
		}
		if _, err = s.f.Write(buf); err != nil {
			break
		}
		s.mu.Lock()
		s.written++
		s.cond.Signal()
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.done = true
	s.cond.Signal()
	s.mu.Unlock()
	wg.Wait()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return errors.Join(err, syncErr)
}

// syncLoop fsyncs whatever was written since the last fsync (group
// commit) and answers those frames, until the reader stops.
func (s *floorServer) syncLoop() error {
	var out []byte
	for {
		s.mu.Lock()
		for s.written == s.synced && !s.done {
			s.cond.Wait()
		}
		from, to, done := s.synced, s.written, s.done
		s.mu.Unlock()
		if from == to && done {
			return nil
		}
		if err := s.f.Sync(); err != nil {
			return err
		}
		out = out[:0]
		for seq := from + 1; seq <= to; seq++ {
			out = binary.BigEndian.AppendUint64(out, seq)
		}
		if _, err := s.c.Write(out); err != nil {
			return err
		}
		s.mu.Lock()
		s.synced = to
		s.mu.Unlock()
	}
}

// floorRun sends frameLen-byte frames at rate for d to a floorServer
// writing into dir, and returns each frame's latency from its send to its
// answer.
func floorRun(ctx context.Context, dir string, rate, frameLen int, d time.Duration) ([]time.Duration, error) {
	f, err := os.CreateTemp(dir, "floor")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		s := &floorServer{f: f, c: c, frameLen: frameLen}
		s.cond = sync.NewCond(&s.mu)
		served <- s.serve()
	}()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	total := max(1, int(float64(rate)*d.Seconds()))
	sent := make([]time.Time, total+1)
	lat := make([]time.Duration, 0, total)
	received := make(chan error, 1)
	go func() {
		var b [8]byte
		for range total {
			if _, err := io.ReadFull(c, b[:]); err != nil {
				received <- err
				return
			}
			seq := binary.BigEndian.Uint64(b[:])
			if seq == 0 || seq > uint64(total) {
				received <- errors.New("floor: answer for a frame never sent")
				return
			}
			lat = append(lat, time.Since(sent[seq]))
		}
		received <- nil
	}()
	frame := make([]byte, frameLen)
	interval := time.Second / time.Duration(max(1, rate))
	start := time.Now()
	for i := 1; i <= total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i-1) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		sent[i] = time.Now()
		if _, err := c.Write(frame); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := <-received; err != nil {
		return nil, err
	}
	c.Close()
	if err := <-served; err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}
