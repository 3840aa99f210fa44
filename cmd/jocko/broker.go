package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core"
	jio "github.com/jocko/jocko/io"
)

// brokerFlags binds the broker's flags to a core.Config.
func brokerFlags(cfg *core.Config) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet("jocko broker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: jocko broker [flags]\n\nRuns a broker. With no flags it serves Kafka on 127.0.0.1:9092 and keeps its data in ./jocko-data.\nEvery flag is also read from JOCKO_<NAME> (for example JOCKO_DATA_DIR, JOCKO_LOG_RETENTION_MS).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	def := cfg.WithDefaults()
	fs.Func("node-id", "broker ID, 1 or more (default: the one in --data-dir; else 1 for a new cluster, or the next free ID for a broker that joins)", func(s string) error {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("want a broker ID, 1 or more")
		}
		cfg.NodeID = int32(n)
		return nil
	})
	fs.Func("join", "gossip HOST:PORT of a cluster member to join (its Kafka port plus 2); repeat or comma-separate for several; retried until one answers", func(s string) error {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				cfg.Join = append(cfg.Join, a)
			}
		}
		return nil
	})
	fs.StringVar(&cfg.GossipAddr, "gossip-listen", "", "membership (Serf gossip) listener HOST:PORT (default: the Kafka port plus two)")
	fs.IntVar(&cfg.ControllerVoters, "controller-voters", 0, "brokers that vote in the metadata Raft group: 1, 3 or 5 (default 3)")
	fs.StringVar(&cfg.DataDir, "data-dir", def.DataDir, "directory for partition logs and the metadata log")
	fs.StringVar(&cfg.ListenAddr, "listen", def.ListenAddr, "Kafka listener HOST:PORT")
	fs.StringVar(&cfg.AdvertiseAddr, "advertise", "", "HOST:PORT given to clients (default: the listen address)")
	fs.StringVar(&cfg.RaftAddr, "raft-listen", "", "metadata Raft listener HOST:PORT (default: the Kafka port plus one)")
	fs.StringVar(&cfg.ClusterID, "cluster-id", "", "cluster ID on first start (default: generated)")
	fs.StringVar(&cfg.Rack, "rack", "", "rack reported to clients")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "text", "text or json")
	cfg.Defaults = map[string]string{}
	for _, s := range core.Settings() {
		name := s.Name
		fs.Func(name, fmt.Sprintf("%s (default %s)", s.Doc, s.Default), func(v string) error {
			cfg.Defaults[name] = v
			return nil
		})
	}
	return fs, level, format
}

func runBroker(args []string, stderr io.Writer) error {
	var cfg core.Config
	fs, level, format := brokerFlags(&cfg)
	metricsAddr := metricsFlag(fs)
	configPath := fs.String("config", "", "a Kafka server.properties to read (listeners, log.dirs, node.id, log.retention.hours, ...); flags and JOCKO_ variables win over it")
	src, err := parseFlagSources(fs, args, stderr)
	if err != nil {
		return err
	}
	cf, err := applyConfigFile(fs, *configPath, src)
	if err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("jocko broker takes no arguments, got %q", strings.Join(fs.Args(), " "))}
	}
	logger, err := newLogger(stderr, *level, *format)
	if err != nil {
		return usageError{err.Error()}
	}
	if cf != nil && len(cf.ignored) > 0 {
		logger.Warn("ignoring Kafka settings Jocko does not act on", "file", cf.path, "keys", strings.Join(cf.ignored, ","))
	}
	cfg.Membership = serfMembership(logger)
	mx := newBrokerMetrics(metricsAddr, cfg.WithDefaults().ListenAddr)
	cfg.Metrics = mx.hooks()
	b, err := core.NewBroker(cfg, jio.Env{Log: logger})
	if err != nil {
		return usageError{err.Error()}
	}
	eff := cfg.WithDefaults()
	logger.Info("starting jocko", "data_dir", eff.DataDir, "listen", eff.ListenAddr, "raft", eff.RaftAddr, "gossip", eff.GossipAddr, "join", strings.Join(eff.Join, ","))
	stopMetrics, err := mx.serve(b, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	logger.Info("effective settings", settingSources(fs, src, eff)...)
	// SIGTERM or Ctrl-C: a controlled shutdown (leadership moves away
	// first), then stop. A second signal stops at once.
	sig, stopSig := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sig.Done()
		stopSig() // restore default handling: a second signal kills
		sctx, scancel := context.WithTimeout(ctx, shutdownTimeout)
		defer scancel()
		b.Shutdown(sctx)
		cancel()
	}()
	if err := b.Run(ctx); err != nil {
		return err
	}
	logger.Info("jocko stopped")
	return nil
}

// shutdownTimeout bounds the controlled shutdown: a broker whose
// leaderships cannot move (the controller is unreachable) stops anyway.
const shutdownTimeout = 20 * time.Second

// serfMembership gives a broker gossip membership over Serf; a restart
// rejoins the members it knew from the snapshot in its data directory.
func serfMembership(logger *slog.Logger) func(cluster.Member, string) (cluster.Membership, error) {
	return func(local cluster.Member, dir string) (cluster.Membership, error) {
		return cluster.NewSerfMembership(cluster.SerfConfig{
			BindAddr:         local.GossipAddr,
			Local:            local,
			Log:              logger,
			SnapshotPath:     filepath.Join(dir, "serf.snapshot"),
			RejoinAfterLeave: true,
		})
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
