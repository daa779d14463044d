package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxLineBytes bounds one recorded message.
const MaxLineBytes = 1 << 20

// readBufferBytes is the read buffer of a Reader: lines shorter than it
// are returned without copying.
const readBufferBytes = 64 << 10

// Errors of a Reader; the replay wraps them with the file and line.
var (
	// ErrLongLine reports a line longer than MaxLineBytes.
	ErrLongLine = fmt.Errorf("replay: line longer than %d bytes", MaxLineBytes)
	// ErrBinary reports a line holding a NUL byte or invalid UTF-8: the
	// file is not a text recording (or is compressed with something
	// other than gzip).
	ErrBinary = errors.New("replay: binary data, not a text recording (plain or gzip, one message a line)")
	// ErrCorrupt reports a gzip stream that is cut short or damaged.
	ErrCorrupt = errors.New("replay: corrupt or truncated gzip data")
)

// Open returns a reader of r's content, decompressing gzip when r starts
// with its magic number. Concatenated gzip members read as one stream.
func Open(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, readBufferBytes)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return &gzipErrors{zr}, nil
	}
	return br, nil
}

// gzipErrors turns the decompressor's errors into ErrCorrupt.
type gzipErrors struct{ r io.Reader }

func (g *gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return n, err
}

// Reader reads a recording line by line, with bounded memory whatever the
// input: a line is at most MaxLineBytes, and binary data is an error, not
// a stream of odd messages.
type Reader struct {
	br   *bufio.Reader
	buf  []byte // a line longer than the read buffer, assembled
	line int
	err  error // sticky: once set, Next returns it
}

// NewReader returns a Reader of r, which may be gzip-compressed.
func NewReader(r io.Reader) (*Reader, error) {
	or, err := Open(r)
	if err != nil {
		return nil, err
	}
	br, ok := or.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(or, readBufferBytes)
	}
	return &Reader{br: br}, nil
}

// Line returns the number of the line Next returned last (from 1), or of
// the line it failed on.
func (r *Reader) Line() int { return r.line }

// Next returns the next line without its line end, trimmed of spaces; an
// empty line is returned as an empty slice. The slice is valid until the
// next call. At the end Next returns io.EOF; after any error it returns
// the same error again.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxLineBytes+2 { // room for "\r\n"
			r.line++
			r.err = ErrLongLine
			return nil, r.err
		}
		if err == bufio.ErrBufferFull {
			r.buf = append(r.buf, chunk...)
			continue
		}
		line := chunk
		if len(r.buf) > 0 {
			r.buf = append(r.buf, chunk...)
			line = r.buf
		}
		switch {
		case err == io.EOF && len(line) == 0:
			r.err = io.EOF
			return nil, r.err
		case err == io.EOF:
			r.err = io.EOF // this line now, the end next time
		case err != nil:
			r.line++
			r.err = err
			return nil, err
		}
		r.line++
		line = bytes.TrimSpace(line)
		if bytes.IndexByte(line, 0) >= 0 || !utf8.Valid(line) {
			r.err = ErrBinary
			return nil, r.err
		}
		return line, nil
	}
}
