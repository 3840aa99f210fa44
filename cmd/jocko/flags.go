package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// envName maps a flag name to its environment variable: data-dir ->
// JOCKO_DATA_DIR, log.retention.ms -> JOCKO_LOG_RETENTION_MS.
func envName(flagName string) string {
	r := strings.NewReplacer("-", "_", ".", "_")
	return "JOCKO_" + strings.ToUpper(r.Replace(flagName))
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its JOCKO_ environment variable. Errors say which flag
// or variable was wrong.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	_, err := parseFlagSources(fs, args, stderr)
	return err
}

// flagSource is where a flag's value came from ("flag", "env", "file",
// "default") and the value as given.
type flagSource struct {
	from, value string
	key         string // for "file": the file's key, when not the flag's name
}

// parseFlagSources is parseFlags that also says where each flag that was
// set got its value, and the value as given.
func parseFlagSources(fs *flag.FlagSet, args []string, stderr io.Writer) (map[string]flagSource, error) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	src := map[string]flagSource{}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = flagSource{from: "flag", value: rawValue(fs, f.Name, args)} })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if _, given := src[f.Name]; err != nil || given {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usageError{fmt.Sprintf("%s=%q: %v", envName(f.Name), v, serr)}
			}
			src[f.Name] = flagSource{from: "env", value: v}
		}
	})
	return src, err
}

// rawValue finds the last value args gave flag name (-name v, --name=v),
// as the flag package reads them; flags whose Value does not keep the
// text (flag.Func) have no other way back to it.
func rawValue(fs *flag.FlagSet, name string, args []string) string {
	v := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			break // the flag package stops at the first non-flag
		}
		n, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(n)
		if !hasVal && f != nil && !isBoolFlag(f) && i+1 < len(args) {
			val, i = args[i+1], i+1
		} else if !hasVal {
			val = "true"
		}
		if n == name {
			v = val
		}
	}
	return v
}

// interleave lets flags follow positional arguments (jocko topic create NAME
// --partitions 3): it moves positional arguments to the end.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// kvList is a repeatable NAME=VALUE flag.
type kvList map[string]string

func (l kvList) String() string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (l kvList) Set(s string) error {
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", kv)
		}
		l[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return nil
}
