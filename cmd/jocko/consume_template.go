package main

import (
	"bufio"
	"encoding/json"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordTemplate is a parsed --template: literal text and record fields,
// written in order for each record, as kcat -f does.
type recordTemplate []templatePart

// templatePart is literal text, or a field when field is not 0.
type templatePart struct {
	lit   string
	field byte
}

const templateHelp = `%k key, %v value, %h headers (k=v,k2=v2), %p partition, %o offset, ` +
	`%t timestamp (ms), %T topic, %% a percent sign; \n newline, \t tab, \\ backslash`

// defaultTemplate prints each record's value on its own line, as kcat does.
const defaultTemplate = `%v\n`

// parseTemplate reads a --template; an unknown directive or escape is named
// in the error with its position.
func parseTemplate(s string) (recordTemplate, error) {
	var t recordTemplate
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			t = append(t, templatePart{lit: string(lit)})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' && c != '\\' {
			lit = append(lit, c)
			continue
		}
		if i+1 == len(s) {
			return nil, usageErrorf("--template %q: a lone %c at the end; want one of %s", s, c, templateHelp)
		}
		i++
		d := s[i]
		switch {
		case c == '%' && d == '%':
			lit = append(lit, '%')
		case c == '%' && (d == 'k' || d == 'v' || d == 's' || d == 'h' || d == 'p' || d == 'o' || d == 't' || d == 'T'):
			flush()
			if d == 's' { // kcat's name for the value
				d = 'v'
			}
			t = append(t, templatePart{field: d})
		case c == '\\' && d == 'n':
			lit = append(lit, '\n')
		case c == '\\' && d == 't':
			lit = append(lit, '\t')
		case c == '\\' && d == 'r':
			lit = append(lit, '\r')
		case c == '\\' && d == '\\':
			lit = append(lit, '\\')
		default:
			return nil, usageErrorf("--template %q: unknown %c%c at position %d; want one of %s", s, c, d, i, templateHelp)
		}
	}
	flush()
	return t, nil
}

// write prints r through the template.
func (t recordTemplate) write(w *bufio.Writer, r *kgo.Record) {
	for _, part := range t {
		switch part.field {
		case 0:
			w.WriteString(part.lit)
		case 'k':
			w.Write(r.Key)
		case 'v':
			w.Write(r.Value)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(h.Key)
				w.WriteByte('=')
				w.Write(h.Value)
			}
		case 'p':
			w.WriteString(strconv.FormatInt(int64(r.Partition), 10))
		case 'o':
			w.WriteString(strconv.FormatInt(r.Offset, 10))
		case 't':
			w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		case 'T':
			w.WriteString(r.Topic)
		}
	}
}

// jsonRecord is one record as --format json prints it, one object a line.
// Keys and values are strings (bytes that are not UTF-8 become U+FFFD); a
// null key or value is null.
type jsonRecord struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp int64        `json:"timestamp"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// writeJSONRecord prints r as one line of JSON.
func writeJSONRecord(w *bufio.Writer, r *kgo.Record) error {
	jr := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
		Key: nullableString(r.Key), Value: nullableString(r.Value), Headers: []jsonHeader{}}
	for _, h := range r.Headers {
		jr.Headers = append(jr.Headers, jsonHeader{h.Key, string(h.Value)})
	}
	b, err := json.Marshal(jr)
	if err != nil {
		return err
	}
	w.Write(b)
	return w.WriteByte('\n')
}

func nullableString(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
