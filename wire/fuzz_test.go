package wire

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// seedBatches returns valid batches for every codec, a xerial one, and a
// few batches back to back.
func seedBatches(t testing.TB) [][]byte {
	var seeds [][]byte
	var all []byte
	for _, c := range allCodecs {
		b := testBatch(t, c, testRecords(4, 16))
		seeds = append(seeds, b)
		all = append(all, b...)
	}
	raw, _ := appendRecords(nil, testRecords(2, 8), true)
	x := append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)
	block := s2.EncodeSnappy(nil, raw)
	x = append(binary.BigEndian.AppendUint32(x, uint32(len(block))), block...)
	xb := testBatch(t, CodecSnappy, testRecords(2, 8))
	xb = append(xb[:BatchHeaderLen:BatchHeaderLen], x...)
	binary.BigEndian.PutUint32(xb[offLength:], uint32(len(xb)-12))
	return append(seeds, recrc(xb), all)
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frameOf([]byte("abcdefgh")), int32(100))
	f.Add(append(frameOf([]byte("abcd")), frameOf([]byte("efghij"))...), int32(5))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, RequestBytesMax)
	f.Add([]byte{0, 0, 0}, RequestBytesMax)
	f.Fuzz(func(t *testing.T, data []byte, max int32) {
		r := bytes.NewReader(data)
		var buf []byte
		for {
			body, err := ReadFrame(r, max, buf)
			if err != nil {
				return
			}
			if len(body) < frameBytesMin || int64(len(body)) > int64(max) {
				t.Fatalf("body of %d bytes with max %d", len(body), max)
			}
			buf = body
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, req := range sampleRequests() {
		for _, v := range []int16{0, 3, req.MaxVersion()} {
			if v <= req.MaxVersion() {
				req.SetVersion(v)
				f.Add(kmsg.NewRequestFormatter(kmsg.FormatterClientID("c")).AppendRequest(nil, req, 1)[4:])
			}
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, err := ParseRequest(frame)
		if err != nil {
			if strings.Contains(err.Error(), "decoder panic") {
				t.Fatal(err)
			}
			return
		}
		if req.Key() != h.Key || req.GetVersion() != h.Version {
			t.Fatalf("header %+v for request key %d v%d", h, req.Key(), req.GetVersion())
		}
		// Whatever parses must re-encode to something that parses the same.
		body := req.AppendTo(nil)
		again := kmsg.RequestForKey(h.Key)
		again.SetVersion(h.Version)
		if err := again.ReadFrom(body); err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		if !bytes.Equal(again.AppendTo(nil), body) {
			t.Fatal("re-encoded request differs")
		}
	})
}

func FuzzValidateBatches(f *testing.F) {
	for _, s := range seedBatches(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, records []byte) {
		checkValidated(t, records)
		// Mutations almost never keep the CRC right; fix it so the fuzzer
		// reaches decompression and record parsing too.
		checkValidated(t, fixCRCs(bytes.Clone(records)))
	})
}

// fixCRCs recomputes the CRC of every batch that frames correctly.
func fixCRCs(b []byte) []byte {
	for rest := b; ; {
		h, err := ParseBatchHeader(rest)
		if err != nil || h.Size() > len(rest) {
			return b
		}
		recrc(rest[:h.Size()])
		rest = rest[h.Size():]
	}
}

// checkValidated checks that whatever ValidateBatches accepts, Records
// reads, and that its errors are *BatchError.
func checkValidated(t *testing.T, records []byte) {
	hs, err := ValidateBatches(records, ValidateOptions{DecompressedBytesMax: 1 << 20})
	if err != nil {
		if _, ok := err.(*BatchError); !ok {
			t.Fatalf("error %T %v is not a *BatchError", err, err)
		}
		return
	}
	for i, h := range hs {
		recs, err := Records(records[:h.Size()])
		if err != nil {
			t.Fatalf("batch %d accepted by ValidateBatches, rejected by Records: %v", i, err)
		}
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("batch %d: %d records, header says %d", i, len(recs), h.NumRecords)
		}
		records = records[h.Size():]
	}
	if len(records) != 0 {
		t.Fatalf("%d bytes left after the accepted batches", len(records))
	}
}

func FuzzRecords(f *testing.F) {
	for _, s := range seedBatches(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, batch []byte) {
		recs, err := Records(batch)
		if err != nil {
			return
		}
		h, _ := ParseBatchHeader(batch)
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		// Re-encoding what was read must read back the same.
		b, err := AppendBatch(nil, Batch{ProducerID: -1, BaseSequence: -1, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		back, err := Records(b)
		if err != nil || len(back) != len(recs) {
			t.Fatalf("re-encoded batch: %d records, %v", len(back), err)
		}
		for i := range recs {
			if !sameBytes(back[i].Key, recs[i].Key) || !sameBytes(back[i].Value, recs[i].Value) ||
				len(back[i].Headers) != len(recs[i].Headers) {
				t.Fatalf("record %d differs after re-encoding", i)
			}
		}
	})
}
