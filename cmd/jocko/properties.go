package main

import (
	"fmt"
	"strconv"
	"strings"
)

// property is one key=value of a properties file, with the line it starts on.
type property struct {
	key, value string
	line       int
}

// parseProperties reads Java's properties format, as Kafka's
// server.properties uses it (java.util.Properties.load): lines starting
// with # or ! are comments; a key ends at the first unescaped '=', ':' or
// blank, and one '=' or ':' with the blanks around it separates it from
// the value; a line ending in an odd number of backslashes continues on
// the next one (whose leading blanks are dropped); \t \n \r \f \uXXXX are
// escapes and a backslash before any other character stands for that
// character. Unlike Java, which reads ISO-8859-1, the text is UTF-8.
func parseProperties(text string) ([]property, error) {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(text, "\n")
	var out []property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue // comments do not continue, even after a backslash
		}
		for endsContinued(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsContinued(line) { // a continuation at the end of the file
			line = line[:len(line)-1]
		}
		p, err := splitProperty(line)
		if err != nil {
			return nil, fmt.Errorf("%d: %v", start, err)
		}
		p.line = start
		out = append(out, p)
	}
	return out, nil
}

// endsContinued reports whether line ends with an odd number of backslashes.
func endsContinued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits one logical line into its unescaped key and value.
func splitProperty(line string) (property, error) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if strings.IndexByte("=: \t\f", line[i]) >= 0 {
			end = i
			break
		}
	}
	rest := strings.TrimLeft(line[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err := unescapeProperty(line[:end])
	if err != nil {
		return property{}, err
	}
	value, err := unescapeProperty(rest)
	if err != nil {
		return property{}, fmt.Errorf("%s: %v", key, err)
	}
	return property{key: key, value: value}, nil
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \u escape %q: want \u and four hex digits`, s[i-1:])
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`malformed \u escape %q: want \u and four hex digits`, s[i-1:i+5])
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
