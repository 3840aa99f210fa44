package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `jocko cluster remove-broker ID` removes a broker that is gone for good
// (UnregisterBroker): the controller takes it out of the metadata Raft
// group, promoting another broker when it was a voter, and forgets its
// registration. The broker must be stopped; its partitions keep it as a
// replica until `jocko topic reassign` or `jocko cluster rebalance` moves
// them.

func init() {
	registerClusterCommand("remove-broker", clusterCommand{
		needName: true,
		setup: func(c *adminCommand, stdout, _ io.Writer) {
			c.runKgo = func(ctx context.Context, cl *kgo.Client, _ *kadm.Client, arg string) error {
				return clusterRemoveBroker(ctx, cl, stdout, arg)
			}
		},
	})
}

func clusterRemoveBroker(ctx context.Context, cl *kgo.Client, out io.Writer, arg string) error {
	id, err := strconv.ParseInt(arg, 10, 32)
	if err != nil || id < 0 {
		return usageErrorf("remove-broker %q: want a broker ID (see jocko cluster describe)", arg)
	}
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = int32(id)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("remove broker %d: %v", id, err)
	}
	if resp.ErrorCode != 0 {
		msg := kerr.ErrorForCode(resp.ErrorCode).Error()
		if resp.ErrorMessage != nil {
			msg = *resp.ErrorMessage
		}
		return fmt.Errorf("remove broker %d: %s", id, msg)
	}
	fmt.Fprintf(out, "removed broker %d; if it was a metadata voter, the controller promotes another broker\n", id)
	return nil
}
