package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleSarama runs examples/sarama (its own Go module, IBM/sarama)
// against a broker: it creates a topic, produces with a SyncProducer at
// acks=all and reads everything back in a consumer group, exiting 1 on any
// missing or different record.
func TestExampleSarama(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", ".", "--brokers", b.addr, "--records", "300", "--partitions", "3")
	cmd.Dir = filepath.Join("..", "..", "examples", "sarama")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("examples/sarama: %v\nstdout:\n%s\nstderr:\n%s\nbroker log:\n%s", err, stdout.String(), stderr.String(), b.logText())
	}
	want := "topic sarama-example: 3 partitions\nproduced 300 records (acks=all)\nconsumed 300 records in group sarama-example: all match\n"
	if stdout.String() != want {
		t.Fatalf("examples/sarama printed:\n%s\nwant:\n%s", stdout.String(), want)
	}
}

// TestExampleKcat runs the kcat walk-through, examples/kcat/README.md:
// every ```sh block in order against a fresh broker, each ```text block
// after one being what it must print.
func TestExampleKcat(t *testing.T) {
	t.Parallel()
	needKcat(t)
	steps := readmeSteps(t, filepath.Join("..", "..", "examples", "kcat", "README.md"))
	if len(steps) < 5 {
		t.Fatalf("examples/kcat/README.md: %d commands, want at least 5 (produce, consume, metadata, group twice)", len(steps))
	}
	b := startBroker(t, "")
	const readmeAddr = "127.0.0.1:9092"
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.ReplaceAll(s.cmd, readmeAddr, b.addr))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("examples/kcat/README.md:%d: %v\n%s\nstderr:\n%s\nbroker log:\n%s", s.line, err, s.cmd, stderr.String(), b.logText())
		}
		got := strings.TrimSpace(strings.ReplaceAll(stdout.String(), b.addr, readmeAddr))
		if s.hasWant && got != strings.TrimSpace(s.want) {
			t.Fatalf("examples/kcat/README.md:%d:\n%s\nprinted:\n%s\nwant (the README's):\n%s", s.line, s.cmd, got, s.want)
		}
	}
}

// readmeStep is one ```sh block of a README and the ```text block after it.
type readmeStep struct {
	cmd, want string
	hasWant   bool
	line      int
}

func readmeSteps(t *testing.T, path string) []readmeStep {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		steps []readmeStep
		block strings.Builder
		kind  string // "sh", "text" or "" outside a block
		start int
	)
	for i, l := range strings.Split(string(text), "\n") {
		switch {
		case kind == "" && (l == "```sh" || l == "```text"):
			kind, start = strings.TrimPrefix(l, "```"), i+2
			block.Reset()
		case kind != "" && l == "```":
			if kind == "sh" {
				steps = append(steps, readmeStep{cmd: block.String(), line: start})
			} else if len(steps) > 0 && !steps[len(steps)-1].hasWant {
				steps[len(steps)-1].want, steps[len(steps)-1].hasWant = block.String(), true
			} else {
				t.Fatalf("%s:%d: a text block with no command block before it", path, start)
			}
			kind = ""
		case kind != "":
			block.WriteString(l + "\n")
		}
	}
	return steps
}
