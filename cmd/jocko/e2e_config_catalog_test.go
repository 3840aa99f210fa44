package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestE2EKafkaConfigCatalog: DescribeConfigs answers Kafka 4's whole
// catalog (core/kafka_configs.tsv) through kadm: a topic's configs include
// those Jocko does not act on at Kafka's defaults; DescribeBrokerConfigs()
// (the "" resource) gives effective values with their sources (default,
// static flag, dynamic default) and answers log.cleaner.backoff.ms with
// Kafka's 15000; documentation comes when asked; and altering a config
// Jocko does not act on is refused with Kafka's answers.
func TestE2EKafkaConfigCatalog(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "", "--log.segment.bytes=1048576")
	ctx := testCtx(t)
	adm := b.admin(t)
	s := kadm.StringPtr
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"preallocate": s("false")}, "cat"); err != nil {
		t.Fatalf("create with preallocate at Kafka's default: %v", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"remote.storage.enable": s("true")}, "tiered"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("create with remote.storage.enable=true: %v, want INVALID_CONFIG", err)
	}

	tc := describeConfigs(t, ctx, adm, "cat")
	wantConfig(t, "cat", tc, "message.downconversion.enable", "true", srcDefault, "log.message.downconversion.enable=true/DEFAULT_CONFIG")
	wantConfig(t, "cat", tc, "local.retention.ms", "-2", srcDefault, "log.local.retention.ms=-2/DEFAULT_CONFIG")
	wantConfig(t, "cat", tc, "remote.storage.enable", "false", srcDefault)
	wantConfig(t, "cat", tc, "preallocate", "false", srcDefault)
	wantConfig(t, "cat", tc, "segment.bytes", "1048576", srcStatic)

	// The "" resource: built-in defaults, the static flag, then a dynamic
	// default once one is set.
	bc := describeConfigs(t, ctx, adm, "")
	wantConfig(t, "cluster", bc, "log.cleaner.backoff.ms", "15000", srcDefault)
	wantConfig(t, "cluster", bc, "num.partitions", "1", srcDefault)
	wantConfig(t, "cluster", bc, "log.segment.bytes", "1048576", srcStatic)
	if len(bc) < 250 {
		t.Errorf("cluster resource lists %d configs, want Kafka 4's broker configs (about 300)", len(bc))
	}
	if c, ok := bc["ssl.keystore.password"]; !ok || c.Value != nil || !c.Sensitive {
		t.Errorf("ssl.keystore.password: %+v, want sensitive with no value", c)
	}
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: s("3")}})
	wantAlterErr(t, "alter cluster default num.partitions", rs, err, nil)
	wantConfig(t, "cluster after alter", describeConfigs(t, ctx, adm, ""), "num.partitions", "3", srcDynDefault,
		"num.partitions=3/DYNAMIC_DEFAULT_BROKER_CONFIG", "num.partitions=1/DEFAULT_CONFIG")

	// Altering what Jocko does not act on: Kafka's answer for read-only
	// broker configs; for a topic, accepted at Kafka's default only.
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.cleaner.backoff.ms", Value: s("1000")}})
	wantAlterErr(t, "alter log.cleaner.backoff.ms", rs, err, kerr.InvalidRequest)
	if len(rs) == 1 && !strings.Contains(rs[0].ErrMessage, "Cannot update these configs dynamically") {
		t.Errorf("alter log.cleaner.backoff.ms: message %q", rs[0].ErrMessage)
	}
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "preallocate", Value: s("true")}}, "cat")
	wantAlterErr(t, "alter preallocate=true", rs, err, kerr.InvalidConfig)
	if len(rs) == 1 && !strings.Contains(rs[0].ErrMessage, "Jocko does not act on preallocate") {
		t.Errorf("alter preallocate=true: message %q", rs[0].ErrMessage)
	}
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "preallocate", Value: s("false")}}, "cat")
	wantAlterErr(t, "alter preallocate=false", rs, err, nil)

	// Documentation and types when asked (DescribeConfigs v3+).
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
		conf string
	}{{kmsg.ConfigResourceTypeTopic, "cat", "segment.jitter.ms"}, {kmsg.ConfigResourceTypeBroker, "", "log.cleaner.backoff.ms"}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = r.typ, r.name, []string{r.conf}
		req.Resources = append(req.Resources, rr)
	}
	resp, err := req.RequestWith(ctx, b.client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 || len(r.Configs) != 1 {
			t.Fatalf("describe %q with documentation: error %d, %d configs", r.ResourceName, r.ErrorCode, len(r.Configs))
		}
		c := r.Configs[0]
		if c.Documentation == nil || !strings.Contains(*c.Documentation, "Jocko does not act on") || c.ConfigType != kmsg.ConfigTypeLong || !c.ReadOnly {
			t.Errorf("%s: documentation %v type %v read-only %v, want Kafka's documentation, LONG, read-only", c.Name, c.Documentation, c.ConfigType, c.ReadOnly)
		}
	}

	// jocko topic describe lists what Jocko acts on, and the rest on asking.
	br := "--brokers=" + b.addr
	code, out, errOut := runCLI("topic", "describe", "cat", br)
	if code != 0 || strings.Contains(out, "local.retention.ms") || !strings.Contains(out, "retention.ms") || !strings.Contains(out, "--all-configs") {
		t.Errorf("topic describe: exit %d %q %q, want the acted-on configs and a pointer to --all-configs", code, out, errOut)
	}
	code, out, errOut = runCLI("topic", "describe", "cat", "--all-configs", br)
	if code != 0 || !strings.Contains(out, "local.retention.ms") {
		t.Errorf("topic describe --all-configs: exit %d %q %q, want local.retention.ms", code, out, errOut)
	}
}
