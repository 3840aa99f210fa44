//go:build tools

// This file pins the modules Jocko's packages and tests use, so that
// `go mod tidy` keeps them while the packages that import them are written.
package main

import (
	_ "github.com/IBM/sarama"
	_ "github.com/anishathalye/porcupine"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/serf/serf"
	_ "github.com/klauspost/compress/s2"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/pierrec/lz4/v4"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/tetratelabs/wazero"
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/kmsg"
	_ "golang.org/x/sync/errgroup"
	_ "pgregory.net/rapid"
)
