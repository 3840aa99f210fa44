// Command jocko is the Jocko broker and its admin tool in one binary.
//
//	jocko broker [flags]          run a broker
//	jocko topic create|list|describe|alter|delete|reassign ...
//	jocko group list|describe|delete|reset-offsets ...
//	jocko quota list|set|delete ...
//	jocko txn list|describe|producers ...
//	jocko cluster describe|health ...
//	jocko produce TOPIC [flags]   send lines of stdin or a file as records
//	jocko consume TOPIC [flags]   print records
//	jocko completion bash|zsh|fish
//
// Every flag can also be set with a JOCKO_ environment variable: --data-dir
// is JOCKO_DATA_DIR, --log.retention.ms is JOCKO_LOG_RETENTION_MS.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `jocko: a Kafka-compatible distributed commit log

Usage:
  jocko broker [flags]                 run a broker (zero configuration needed)
  jocko topic create NAME [flags]      create a topic
  jocko topic list [flags]             list topics
  jocko topic describe NAME [flags]    show partitions, leaders and configs
  jocko topic alter NAME [flags]       add partitions or change configs
  jocko topic delete NAME [flags]      delete a topic and its data
  jocko topic reassign NAME [flags]    move a partition's replicas (--replicas 2,3)
                                       and follow the move; alone, show moves
  jocko group list [flags]             list consumer groups and their states
  jocko group describe NAME [flags]    show members, committed offsets and lag
  jocko group delete NAME [flags]      delete an inactive group and its offsets
  jocko group reset-offsets NAME ...   plan new offsets; --execute commits them
  jocko quota list [flags]             list client quotas (user, client-id, ip)
  jocko quota set [flags]              set quotas (--client-id X --set KEY=N,...)
  jocko quota delete [flags]           delete an entity's quotas (--keys: only those)
  jocko txn list [flags]               list transactions (--state, --producer-id)
  jocko txn describe ID... [flags]     show a transaction's state, producer, timeout,
                                       start and partitions
  jocko txn producers TOPIC [flags]    show each partition's producers and open
                                       transactions (find hanging ones)
  jocko cluster describe [flags]       show brokers, controller, Raft voters and
                                       under-replicated or offline partitions
  jocko cluster health [flags]         one line per problem, or "healthy";
                                       exit 0 only when healthy
  jocko cluster rebalance [flags]      plan an even spread of replicas and
                                       preferred leaders; --execute carries it out
  jocko produce TOPIC [flags]          send each line of stdin (or --file) as a
                                       record; creates the topic if missing
  jocko consume TOPIC [flags]          print records (values by default; see
                                       --template, --offset, --group, --follow)
  jocko completion bash|zsh|fish       print a shell completion script
                                       (source <(jocko completion bash))

Listings print aligned tables; with --format json they print JSON instead.

Run 'jocko COMMAND -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line with the process's stdin.
func run(args []string, stdout, stderr io.Writer) int {
	return runWithInput(args, os.Stdin, stdout, stderr)
}

// runWithInput executes one command line and returns the exit code: 0 on
// success, 2 for usage errors, 1 for failures.
func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "broker":
		err = runBroker(args[1:], stderr)
	case "topic":
		err = runTopic(args[1:], stdout, stderr)
	case "group":
		err = runGroup(args[1:], stdout, stderr)
	case "quota":
		err = runQuota(args[1:], stdout, stderr)
	case "txn":
		err = runTxn(args[1:], stdout, stderr)
	case "cluster":
		err = runCluster(args[1:], stdout, stderr)
	case "produce":
		err = runProduce(args[1:], stdin, stdout, stderr)
	case "consume":
		err = runConsume(args[1:], stdout, stderr)
	case "completion":
		err = runCompletion(args[1:], stdout)
	case "__complete": // what the completion scripts call
		err = runComplete(args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "jocko: %s\nRun 'jocko -h' for usage.\n", ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "jocko: %v\n", err)
		return 1
	}
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
