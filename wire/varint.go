package wire

// Kafka record fields use zigzag varints (protobuf's sint32/sint64): at most
// 5 bytes for a varint and 10 for a varlong.

// readVarint reads a zigzag varint that must fit in 32 bits. It returns
// the value and the bytes read, or n <= 0 when b is too short or the
// encoding is too long or overflows.
func readVarint(b []byte) (int32, int) {
	if len(b) > 0 && b[0] < 0x80 { // one byte: the common case
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	var u uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, -1 // too long, or bits past 32
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, -1
}

// readVarlong reads a zigzag varint of up to 64 bits, like readVarint.
func readVarlong(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint64(b[0])
		return int64(u>>1) ^ -int64(u&1), 1
	}
	var u uint64
	for i := 0; i < 10; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		if i == 9 && c > 0x01 {
			return 0, -1
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, -1
}

// appendVarint appends v as a zigzag varint.
func appendVarint(b []byte, v int32) []byte {
	return appendUvarint(b, uint64(uint32(v<<1)^uint32(v>>31)))
}

// appendVarlong appends v as a zigzag varlong.
func appendVarlong(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendUvarint(b []byte, u uint64) []byte {
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// varintLen is the encoded size of v as a zigzag varint.
func varintLen(v int32) int {
	return uvarintLen(uint64(uint32(v<<1) ^ uint32(v>>31)))
}

// varlongLen is the encoded size of v as a zigzag varlong.
func varlongLen(v int64) int {
	return uvarintLen(uint64(v<<1) ^ uint64(v>>63))
}

func uvarintLen(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
