package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// metaPropertiesFile records, in the data directory, which broker and
// which cluster the directory belongs to, in the format of Kafka's
// meta.properties. A restart without --node-id takes its ID from here, and
// a broker refuses to join a cluster with another ID than the one it has.
const metaPropertiesFile = "meta.properties"

// identity is what meta.properties holds.
type identity struct {
	NodeID    int32
	ClusterID string
}

// readIdentity reads dir's meta.properties; a missing file is the zero
// identity.
func readIdentity(fsys afero.Fs, dir string) (identity, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	data, err := afero.ReadFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return identity{}, nil
	}
	if err != nil {
		return identity{}, fmt.Errorf("read %s: %w", path, err)
	}
	var id identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return identity{}, fmt.Errorf("%s: line %q is not key=value; fix or remove the file", path, line)
		}
		switch strings.TrimSpace(k) {
		case "node.id":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil || n < 1 {
				return identity{}, fmt.Errorf("%s: node.id %q is not a broker ID (1 or more); fix or remove the file", path, v)
			}
			id.NodeID = int32(n)
		case "cluster.id":
			id.ClusterID = strings.TrimSpace(v)
		}
	}
	return id, nil
}

// writeIdentity replaces dir's meta.properties with id, atomically (a
// crash leaves the old file or the new one) and durably.
func writeIdentity(fsys afero.Fs, dir string, id identity) error {
	var buf bytes.Buffer
	buf.WriteString("# Written by jocko: the broker and cluster this data directory belongs to.\nversion=1\n")
	fmt.Fprintf(&buf, "node.id=%d\n", id.NodeID)
	if id.ClusterID != "" {
		fmt.Fprintf(&buf, "cluster.id=%s\n", id.ClusterID)
	}
	return jio.WriteFileAtomic(fsys, filepath.Join(dir, metaPropertiesFile), buf.Bytes())
}
