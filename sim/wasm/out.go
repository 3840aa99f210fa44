package main

import (
	"bufio"
	"fmt"
	"io"
)

type lineWriter struct{ w *bufio.Writer }

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{bufio.NewWriterSize(w, 1<<20)} }

func (l *lineWriter) printf(format string, args ...any) { fmt.Fprintf(l.w, format, args...) }

func (l *lineWriter) flush() { l.w.Flush() }
