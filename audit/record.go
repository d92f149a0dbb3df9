package audit

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Record framing in segment files (docs/audit-format.md, "Segment files"):
//
//	u32 BE payload length | u32 BE CRC-32C(index || payload) | u64 BE index | payload
//
// The CRC is not a security measure (the Merkle tree is); it tells a torn or
// damaged record from a good one so that crash recovery and verify can say
// which record is bad. The index makes a deleted, duplicated or reordered
// record visible at the record where it happened.

const (
	segMagic      = "WAUDSEG1"
	segHeaderSize = 16 // magic + u64 BE index of the first record
	recHeaderSize = 16

	ckptMagic      = "WAUDCKP1"
	ckptHeaderSize = 8
	ckptFrameSize  = 8 // u32 BE length | u32 BE CRC-32C(note)
	maxCkptSize    = 1 << 16

	hashMagic      = "WAUDHSH1"
	hashHeaderSize = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// errShortRecord means the bytes end before the record does: a torn tail
	// when it happens at the end of the last segment.
	errShortRecord = errors.New("record is cut short")
	errRecordCRC   = errors.New("record checksum does not match")
	errRecordSize  = errors.New("record length is out of range")
)

// appendRecordHeader reserves a record header in b; finishRecord fills it once
// the payload follows it.
func appendRecordHeader(b []byte) []byte { return append(b, make([]byte, recHeaderSize)...) }

// finishRecord fills the header of the record that starts at b[0] and whose
// payload is b[recHeaderSize:].
func finishRecord(b []byte, index uint64) {
	frameRecord(b, index)
	sealRecord(b)
}

// frameRecord fills the length and index of the record header at b[0]; the
// ledger does that as it enqueues, and leaves the checksum to its writer
// (sealRecord) so that the caller does not pay for it.
func frameRecord(b []byte, index uint64) {
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)-recHeaderSize))
	binary.BigEndian.PutUint64(b[8:], index)
}

// sealRecord fills the CRC of a framed record that starts at b[0] and ends at
// len(b).
func sealRecord(b []byte) {
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
}

// decodeRecord parses the record at the start of b and returns its index, its
// payload (aliasing b) and its total length. It never panics on any input.
func decodeRecord(b []byte) (index uint64, payload []byte, n int, err error) {
	if len(b) < recHeaderSize {
		return 0, nil, 0, errShortRecord
	}
	size := binary.BigEndian.Uint32(b[0:])
	if size == 0 || size > MaxEventSize {
		return 0, nil, 0, errRecordSize
	}
	n = recHeaderSize + int(size)
	if len(b) < n {
		return 0, nil, 0, errShortRecord
	}
	if crc32.Checksum(b[8:n], castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, n, errRecordCRC
	}
	return binary.BigEndian.Uint64(b[8:]), b[recHeaderSize:n], n, nil
}

func segHeader(first uint64) []byte {
	b := make([]byte, segHeaderSize)
	copy(b, segMagic)
	binary.BigEndian.PutUint64(b[8:], first)
	return b
}

func ckptFrame(note []byte) []byte {
	b := make([]byte, ckptFrameSize, ckptFrameSize+len(note))
	binary.BigEndian.PutUint32(b[0:], uint32(len(note)))
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(note, castagnoli))
	return append(b, note...)
}

// decodeCkptFrame parses one framed checkpoint note at the start of b.
func decodeCkptFrame(b []byte) (note []byte, n int, err error) {
	if len(b) < ckptFrameSize {
		return nil, 0, errShortRecord
	}
	size := binary.BigEndian.Uint32(b[0:])
	if size == 0 || size > maxCkptSize {
		return nil, 0, errRecordSize
	}
	n = ckptFrameSize + int(size)
	if len(b) < n {
		return nil, 0, errShortRecord
	}
	if crc32.Checksum(b[ckptFrameSize:n], castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return nil, n, errRecordCRC
	}
	return b[ckptFrameSize:n], n, nil
}

// isTorn reports whether a decoding failure at the start of rest is what an
// interrupted append leaves behind: the record runs past the end of the file,
// or it is the last thing in the file, or everything from it on is zero bytes
// (blocks the file system allocated but never wrote). Anything else is damage
// in the middle of the log.
func isTorn(rest []byte, err error, n int) bool {
	if errors.Is(err, errShortRecord) {
		return true
	}
	if errors.Is(err, errRecordCRC) && n == len(rest) {
		return true
	}
	for _, c := range rest {
		if c != 0 {
			return false
		}
	}
	return true
}
