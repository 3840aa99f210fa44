package main

import (
	"io"
	"maps"
	"slices"
	"strings"
)

// `jocko cluster SUB` holds the commands about the cluster as a whole. Each
// subcommand registers itself from its own file (cluster_describe.go for
// describe), so adding one does not touch the others.

// clusterCommand is one `jocko cluster` subcommand.
type clusterCommand struct {
	// needName says the subcommand takes one positional argument.
	needName bool
	// setup binds the subcommand's flags on c.fs and sets c.run or
	// c.runKgo (and c.check, if it has flag checks of its own).
	setup func(c *adminCommand, stdout, stderr io.Writer)
}

// clusterCommands are the registered subcommands by name; written only by
// init functions, so read without a lock.
var clusterCommands = map[string]clusterCommand{}

// registerClusterCommand adds `jocko cluster name`; call it from init.
func registerClusterCommand(name string, cmd clusterCommand) {
	if _, dup := clusterCommands[name]; dup {
		panic("jocko: cluster subcommand registered twice: " + name)
	}
	clusterCommands[name] = cmd
}

func runCluster(args []string, stdout, stderr io.Writer) error {
	names := slices.Sorted(maps.Keys(clusterCommands))
	if len(args) == 0 {
		return usageErrorf("cluster needs a subcommand: %s", strings.Join(names, ", "))
	}
	cmd, ok := clusterCommands[args[0]]
	if !ok {
		return usageErrorf("unknown cluster subcommand %q: want %s", args[0], strings.Join(names, ", "))
	}
	c := newAdminCommand("cluster", args[0])
	c.needName = cmd.needName
	cmd.setup(c, stdout, stderr)
	return c.execute(args[1:], stderr)
}
