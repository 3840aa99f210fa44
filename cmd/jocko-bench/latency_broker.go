package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The broker's own view of a -latency phase: the Produce request duration
// histogram it exports (jocko_request_duration_seconds, from reading a
// request to writing its response), scraped before and after the phase.
// Next to the client's figures it tells the broker's share of a tail from
// the client's and the machine's.

// produceHistogram is the cumulative Produce histogram: upper bound in
// seconds -> requests at or below it (+Inf included).
type produceHistogram map[float64]float64

// freeLoopbackAddr is a loopback HOST:PORT nothing listens on right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// scrapeProduce reads the Produce request histogram from a broker's
// /metrics at addr.
func scrapeProduce(ctx context.Context, addr string) (produceHistogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	return parseProduceHistogram(bufio.NewScanner(resp.Body))
}

// parseProduceHistogram picks the Produce buckets out of a Prometheus text
// exposition; there are none before the broker served a Produce.
func parseProduceHistogram(sc *bufio.Scanner) (produceHistogram, error) {
	const prefix = `jocko_request_duration_seconds_bucket{api="Produce",le="`
	h := produceHistogram{}
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("metrics: bad bucket line %q", sc.Text())
		}
		bound := math.Inf(1)
		if le != "+Inf" {
			b, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: bucket %q: %w", le, err)
			}
			bound = b
		}
		n, err := strconv.ParseFloat(count, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: bucket count %q: %w", count, err)
		}
		h[bound] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return h, nil // empty before the broker's first Produce
}

// quantileMs is the q quantile, in ms, of the requests between before and
// after, interpolated linearly inside its bucket as Prometheus's
// histogram_quantile does (the buckets double, so the figure is within a
// factor of two). A quantile in the +Inf bucket answers the highest bound.
func (after produceHistogram) quantileMs(before produceHistogram, q float64) float64 {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := after[math.Inf(1)] - before[math.Inf(1)]
	if total <= 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		n := after[b] - before[b]
		if n >= rank {
			if math.IsInf(b, 1) {
				return round(lower * 1000)
			}
			return round((lower + (b-lower)*(rank-below)/max(n-below, 1)) * 1000)
		}
		lower, below = b, n
	}
	return round(lower * 1000)
}
