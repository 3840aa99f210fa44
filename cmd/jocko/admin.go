package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// adminFlags are the flags every admin command shares.
type adminFlags struct {
	brokers string
	timeout time.Duration
}

func (a *adminFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&a.brokers, "brokers", "127.0.0.1:9092", "comma-separated HOST:PORT list of any Kafka-compatible brokers")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "how long to wait for the cluster")
}

// client connects a client with opts (producer or consumer settings, for
// produce and consume); it fails fast with a clear message when no broker
// answers.
func (a *adminFlags) client(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds := strings.Split(a.brokers, ",")
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RequestRetries(2)}, opts...)...)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--brokers %q: %v", a.brokers, err)}
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("cannot reach a broker at %s (%v); is one running? Set --brokers or JOCKO_BROKERS", a.brokers, err)
	}
	return cl, nil
}

// adminCommand is one `jocko KIND SUB` admin command (topic create, group
// describe, ...): its flags, whether it takes a name, extra checks of its
// flags, and what it runs against the cluster.
type adminCommand struct {
	kind, sub string
	flags     adminFlags
	fs        *flag.FlagSet
	needName  bool
	check     func() error // flag checks beyond parsing; nil for none
	format    *string      // --format of a listing (withFormat); nil for none
	run       func(ctx context.Context, adm *kadm.Client, name string) error
	// runKgo, when set, runs instead of run: for commands that also send
	// requests kadm has no call for (DescribeCluster v2, DescribeQuorum).
	runKgo func(ctx context.Context, cl *kgo.Client, adm *kadm.Client, name string) error
	// manyNames: the command takes one or more names instead of one; run
	// reads them from fs.Args() (its name argument is empty).
	manyNames bool
	// noun is what a name names, in errors; empty: "KIND name".
	noun string
}

func newAdminCommand(kind, sub string) *adminCommand {
	c := &adminCommand{kind: kind, sub: sub, needName: true}
	c.fs = flag.NewFlagSet("jocko "+kind+" "+sub, flag.ContinueOnError)
	c.flags.bind(c.fs)
	return c
}

// execute parses args (flags may follow the name), checks them, connects to
// the cluster and runs the command.
func (c *adminCommand) execute(args []string, stderr io.Writer) error {
	if err := parseFlags(c.fs, interleave(c.fs, args), stderr); err != nil {
		return err
	}
	name, err := c.name()
	if err != nil {
		return err
	}
	if c.format != nil {
		if err := checkFormat(*c.format); err != nil {
			return err
		}
	}
	if c.check != nil {
		if err := c.check(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.flags.timeout)
	defer cancel()
	cl, err := c.flags.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	if c.runKgo != nil {
		return c.runKgo(ctx, cl, kadm.NewClient(cl), name)
	}
	return c.run(ctx, kadm.NewClient(cl), name)
}

// name returns the one positional argument when the command needs it, and
// checks there is nothing else (or, for manyNames, that there are some).
func (c *adminCommand) name() (string, error) {
	noun := c.noun
	if noun == "" {
		noun = c.kind + " name"
	}
	switch {
	case c.manyNames && c.fs.NArg() == 0:
		return "", usageErrorf("jocko %s %s needs at least one %s", c.kind, c.sub, noun)
	case c.manyNames:
		if slices.Contains(c.fs.Args(), "") {
			return "", usageErrorf("jocko %s %s: a %s is empty", c.kind, c.sub, noun)
		}
		return "", nil
	case c.needName && c.fs.NArg() != 1:
		return "", usageErrorf("jocko %s %s needs exactly one %s (got %d arguments)", c.kind, c.sub, noun, c.fs.NArg())
	case !c.needName && c.fs.NArg() != 0:
		return "", usageErrorf("jocko %s %s takes no arguments", c.kind, c.sub)
	case c.needName && c.fs.Arg(0) == "":
		return "", usageErrorf("jocko %s %s: the %s is empty", c.kind, c.sub, noun)
	}
	return c.fs.Arg(0), nil
}
