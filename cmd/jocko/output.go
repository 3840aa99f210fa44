package main

import (
	"encoding/json"
	"flag"
	"io"
	"text/tabwriter"
)

// Listings print aligned tables for people by default and JSON for scripts
// with --format json. bindFormat binds --format; checkFormat rejects
// anything else with a message naming the choices.

const (
	formatText = "text"
	formatJSON = "json"
)

// bindFormat adds --format to fs.
func bindFormat(fs *flag.FlagSet) *string {
	return fs.String("format", formatText, "output: text (aligned tables) or json")
}

// checkFormat checks a --format value.
func checkFormat(f string) error {
	if f != formatText && f != formatJSON {
		return usageErrorf("--format %q: want text or json", f)
	}
	return nil
}

// withFormat gives a listing --format, checked with the command's flags;
// it returns the flag's value.
func (c *adminCommand) withFormat() *string {
	c.format = bindFormat(c.fs)
	return c.format
}

// newTable returns a writer that aligns tab-separated columns, as every
// listing prints them; Flush writes the table.
func newTable(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
