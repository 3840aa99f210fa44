package core

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicNameMax is Kafka's limit on topic name length.
const topicNameMax = 249

// offsetsTopic holds committed offsets and group metadata.
const offsetsTopic = "__consumer_offsets"

// validTopicName applies Kafka's rules: 1-249 characters of [a-zA-Z0-9._-],
// and not "." or "..".
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > topicNameMax {
		return fmt.Errorf("topic name is %d characters, the limit is %d", len(name), topicNameMax)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("topic name %q has %q: only ASCII letters, digits, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}

// topicSpec is a topic to create.
type topicSpec struct {
	name        string
	partitions  int32
	replication int16
	assignments [][]int32 // explicit replica lists; overrides partitions/replication
	configs     map[string]string
	internal    bool
}

// createTopic validates spec, proposes it to the metadata log and opens the
// local partitions before returning, so a client that produces right after
// creating finds its topic. Errors carry Kafka codes via codeError.
func (b *Broker) createTopic(ctx context.Context, spec topicSpec, validateOnly bool) error {
	if err := validTopicName(spec.name); err != nil {
		return codeErr(kerr.InvalidTopicException.Code, err.Error())
	}
	if strings.HasPrefix(spec.name, "__") && !spec.internal && isReservedTopic(spec.name) {
		return codeErr(kerr.InvalidTopicException.Code, "topic name "+spec.name+" is reserved")
	}
	st := b.node.State()
	if _, ok := st.Topic(spec.name); ok {
		return codeErr(kerr.TopicAlreadyExists.Code, "topic "+spec.name+" already exists")
	}
	if err := dropCatalogDefaults(spec.configs); err != nil {
		return codeErr(kerr.InvalidConfig.Code, err.Error())
	}
	for k, v := range spec.configs {
		if err := validateTopicConfig(k, v); err != nil {
			return codeErr(kerr.InvalidConfig.Code, err.Error())
		}
	}
	assign, err := b.assignReplicas(st, spec)
	if err != nil {
		return err
	}
	if err := checkTopicBudget(len(assign), b.topicSettingWith(st, spec.configs)); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	cmd := cluster.CreateTopic{Name: spec.name, ID: b.env.Rand.UUID(), Assignments: assign, Configs: spec.configs, Internal: spec.internal}
	if err := b.propose(ctx, cmd); err != nil {
		return err
	}
	b.log.Info("topic created", "topic", spec.name, "partitions", len(assign))
	return nil
}

func isReservedTopic(name string) bool {
	return name == offsetsTopic
}

// assignReplicas returns the replicas of each partition of spec: its
// explicit assignment after checking it, or controller.Place's rack-aware,
// balanced placement at spec.replication.
func (b *Broker) assignReplicas(st *cluster.State, spec topicSpec) ([][]int32, error) {
	if spec.assignments != nil {
		return spec.assignments, checkAssignments(st, spec.assignments)
	}
	return b.place(st, int(spec.partitions), int(spec.replication), nil)
}

// checkAssignments requires each explicit replica list to be non-empty
// and to name distinct registered brokers.
func checkAssignments(st *cluster.State, assignments [][]int32) error {
	for i, reps := range assignments {
		if len(reps) == 0 {
			return codeErr(kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("partition %d has no replicas", i))
		}
		seen := map[int32]bool{}
		for _, r := range reps {
			if _, ok := st.Brokers[r]; !ok || seen[r] {
				return codeErr(kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("partition %d: replica %d is unknown or repeated", i, r))
			}
			seen[r] = true
		}
	}
	return nil
}

// place chooses the replicas of n new partitions at replication factor rf
// after existing ones (controller.Place: unfenced brokers only, racks
// alternated, replicas and preferred leaders spread evenly). The rotation
// starts at a seeded random position, as Kafka's does, so that topics do
// not all start on the same broker.
func (b *Broker) place(st *cluster.State, n, rf int, existing [][]int32) ([][]int32, error) {
	brokers := controller.BrokersOf(st)
	assign, err := controller.Place(brokers, n, rf, b.env.Rand.IntN(max(1, len(brokers))), existing)
	var cerr *controller.Error
	if errors.As(err, &cerr) {
		return nil, codeErr(cerr.Code.Code, cerr.Message)
	}
	return assign, err
}

func sortedBrokerIDs(st *cluster.State) []int32 {
	ids := make([]int32, 0, len(st.Brokers))
	for id := range st.Brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// propose applies cmd through the metadata log and reconciles local
// partitions, waiting for those it opens (not for others still opening
// since the broker's start), mapping metadata errors to Kafka codes.
func (b *Broker) propose(ctx context.Context, cmd cluster.Command) error {
	since := b.opens.scheduled()
	if err := b.commit(ctx, cmd); err != nil {
		return clusterErr(err)
	}
	if err := b.reconcileWait(ctx, since); err != nil {
		return codeErr(kerr.KafkaStorageError.Code, err.Error())
	}
	return nil
}

func clusterErr(err error) error {
	code := kerr.UnknownServerError.Code
	switch {
	case errors.Is(err, cluster.ErrTopicExists):
		code = kerr.TopicAlreadyExists.Code
	case errors.Is(err, cluster.ErrUnknownTopic):
		code = kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, cluster.ErrInvalidPartitions):
		code = kerr.InvalidPartitions.Code
	case errors.Is(err, cluster.ErrInvalidReplicas):
		code = kerr.InvalidReplicaAssignment.Code
	case errors.Is(err, cluster.ErrNotLeader):
		code = kerr.NotController.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code = kerr.RequestTimedOut.Code
	}
	return codeErr(code, err.Error())
}

// codeError is an error that carries the Kafka code a handler answers with.
type codeError struct {
	code int16
	msg  string
}

func (e *codeError) Error() string { return e.msg }

func codeErr(code int16, msg string) error { return &codeError{code, msg} }

// errorCode extracts the Kafka code and message of err (0 and nil for nil).
func errorCode(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code, &ce.msg
	}
	msg := err.Error()
	return kerr.UnknownServerError.Code, &msg
}
