package trace

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format renders e in words: virtual time, kind, and each field as the name
// it hashes (host, path, fault kind) when names knows it, else as a number.
func Format(e Event, names func(uint64) (string, bool)) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%12.6fs %-12s", time.Duration(e.At).Seconds(), e.Kind)
	for _, v := range [3]uint64{e.A, e.B, e.C} {
		b.WriteByte(' ')
		if s, ok := names(v); ok && v != 0 {
			b.WriteString(s)
		} else if v > 1<<48 {
			b.WriteString("0x" + strconv.FormatUint(v, 16))
		} else {
			b.WriteString(strconv.FormatUint(v, 10))
		}
	}
	return b.String()
}
