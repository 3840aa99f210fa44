package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	nodeID := int(def.NodeID)
	fs.Func("node-id", fmt.Sprintf("broker ID, 1 or more (default %d)", nodeID), func(s string) error {
		_, err := fmt.Sscan(s, &cfg.NodeID)
		return err
	})
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
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("jocko broker takes no arguments, got %q", strings.Join(fs.Args(), " "))}
	}
	logger, err := newLogger(stderr, *level, *format)
	if err != nil {
		return usageError{err.Error()}
	}
	b, err := core.NewBroker(cfg, jio.Env{Log: logger})
	if err != nil {
		return usageError{err.Error()}
	}
	eff := cfg.WithDefaults()
	logger.Info("starting jocko", "node_id", eff.NodeID, "data_dir", eff.DataDir, "listen", eff.ListenAddr, "raft", eff.RaftAddr, "settings", describeSettings(cfg.Defaults))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := b.Run(ctx); err != nil {
		return err
	}
	logger.Info("jocko stopped")
	return nil
}

func describeSettings(set map[string]string) string {
	if len(set) == 0 {
		return "defaults"
	}
	var parts []string
	for k, v := range set {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
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
