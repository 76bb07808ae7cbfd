package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// maxLine bounds the length of a history line.
// The longest well-formed row is a few hundred bytes.
const maxLine = 4096

// readBuffer is the size of a Reader's buffer.
const readBuffer = 64 << 10

// Reader reads the rows of a history one at a time.
// A tool can then summarize a history of any length in bounded memory.
type Reader struct {
	name string
	br   *bufio.Reader
	line int
	err  error
}

// NewReader returns a Reader of the history in r.
// Its errors carry name as the file name.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, br: bufio.NewReaderSize(r, readBuffer)}
}

// Next returns the next row, or io.EOF after the last.
//
// It checks the header before the first row. A malformed file gives a
// *FormatError that carries the line. For a history without start_time,
// that error wraps ErrOldFormat. Every later call returns the same error.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	if r.line == 0 {
		if err := r.readHeader(); err != nil {
			r.err = err
			return Row{}, err
		}
	}
	line, err := r.readLine()
	if err != nil {
		r.err = err
		return Row{}, err
	}
	row, ferr := parseRow(line)
	if ferr != nil {
		r.err = ferr.at(r.name, r.line)
		return Row{}, r.err
	}
	return row, nil
}

// readHeader reads and checks the header line.
func (r *Reader) readHeader() error {
	line, err := r.readLine()
	if err == io.EOF {
		return &FormatError{Path: r.name, Reason: "empty file: want the header " + strconv.Quote(Header)}
	}
	if err != nil {
		return err
	}
	if string(line) == Header {
		return nil
	}
	header := append([]byte(nil), line...)
	var first []byte
	if next, err := r.br.ReadSlice('\n'); err == nil {
		first = next
	}
	return checkHeader(r.name, header, first)
}

// readLine returns the next line without its newline.
// It returns io.EOF only at a clean end of the file.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if len(line) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	r.line++
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine+1:
		return nil, &FormatError{Path: r.name, Line: r.line, Value: quote(line),
			Reason: fmt.Sprintf("line longer than %d bytes: not a history row", maxLine)}
	case err == io.EOF:
		return nil, &FormatError{Path: r.name, Line: r.line, Value: quote(line),
			Reason: "last line does not end in a newline: the file is truncated"}
	case err != nil:
		return nil, fmt.Errorf("history: read %s: %w", r.name, err)
	}
	return line[:len(line)-1], nil
}

// Read parses the whole history at path.
// It is meant for tests and small tools. NewReader streams a large history.
func Read(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	r := NewReader(f, path)
	var rows []Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
}
