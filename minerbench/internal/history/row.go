package history

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ErrOldFormat marks a history without the start_time column.
//
// Bittensor 2.0.4's QueryBenchmark and earlier minerbench versions wrote
// such histories. A *FormatError wraps it. Rows in this package's format
// must not be appended to such a file.
var ErrOldFormat = errors.New("history without start_time")

// FormatError reports a file that is not a well-formed history.
// Open refuses to append to it, and a Reader stops at it.
type FormatError struct {
	// Path names the file.
	Path string
	// Line is the 1-based line of the problem, or 0 when the problem is the
	// file as a whole.
	Line int
	// Column names the offending column, or is empty when the problem is the
	// whole line.
	Column string
	// Value is the offending text, shortened when long.
	Value string
	// Reason says what is wrong and what is accepted.
	Reason string

	kind error // ErrOldFormat, or nil
}

// Error implements error.
func (e *FormatError) Error() string {
	loc := e.Path
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Column != "" {
		return fmt.Sprintf("history: %s: column %s: value %q: %s", loc, e.Column, e.Value, e.Reason)
	}
	return fmt.Sprintf("history: %s: %q: %s", loc, e.Value, e.Reason)
}

// Unwrap returns ErrOldFormat for a history without start_time, else nil.
func (e *FormatError) Unwrap() error { return e.kind }

// maxQuote bounds the offending text kept in a FormatError.
const maxQuote = 80

func quote(b []byte) string {
	if len(b) > maxQuote {
		return string(b[:maxQuote]) + "..."
	}
	return string(b)
}

// unixTimeFloor separates the two meanings of an old history's time column.
// No latency reaches it (3 years), and every Unix time since 1973 exceeds it.
const unixTimeFloor = 1e8

// checkHeader checks that line, without its newline, is the history header.
//
// Its error is a FormatError on line 1. For the header without start_time,
// the error wraps ErrOldFormat. It says what the rows mean, judging by
// firstRow, the line after the header (nil when there is none).
func checkHeader(path string, line, firstRow []byte) error {
	switch string(line) {
	case Header:
		return nil
	case oldHeader:
		meaning := "Bittensor 2.0.4's QueryBenchmark columns, without start_time"
		if t, ok := secondField(firstRow); ok && t >= unixTimeFloor {
			meaning = "written by an earlier minerbench: its time column holds each query's Unix send time and elapsed its latency"
		}
		return &FormatError{Path: path, Line: 1, Value: quote(line), kind: ErrOldFormat,
			Reason: meaning + "; this version writes time = the latency and elapsed = seconds since the run's start, and adds start_time, " +
				"so its rows must not be appended here: move the file aside, or start a fresh history in its place"}
	}
	return &FormatError{Path: path, Line: 1, Value: quote(line),
		Reason: "not a query history: want the header " + strconv.Quote(Header)}
}

// secondField parses the second comma-separated field of line as a float.
func secondField(line []byte) (float64, bool) {
	_, rest, ok := bytes.Cut(line, []byte{','})
	if !ok {
		return 0, false
	}
	field, _, _ := bytes.Cut(rest, []byte{','})
	v, err := strconv.ParseFloat(string(field), 64)
	return v, err == nil
}

// fieldError is a parse failure of one column of a row.
type fieldError struct {
	column string
	value  string
	reason string
}

// at places a fieldError in a file.
func (e *fieldError) at(path string, line int) *FormatError {
	return &FormatError{Path: path, Line: line, Column: e.column, Value: e.value, Reason: e.reason}
}

// appendFloat writes v in the shortest decimal form that reads back as v.
//
// Go's ParseFloat and Python's float() both round-trip it. It has no
// exponent, and whole numbers get a ".0", as pandas writes a float column.
// So pandas reads the column back as floats.
func appendFloat(b []byte, v float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

// fromUnixSeconds returns the UTC time of float Unix seconds s.
// It is exact to the nearest nanosecond the float can tell.
func fromUnixSeconds(s float64) time.Time {
	sec := math.Floor(s)
	nsec := math.Round((s - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC()
}

// fromSeconds returns the duration of float seconds s, to the nanosecond.
func fromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s * 1e9))
}

// settings returns the settings of info in column order.
func (info RunInfo) settings() [5]int {
	return [...]int{info.NProcesses, info.NCalls, info.BatchSize, info.BlockSize, info.WorldSize}
}

// appendSuffix writes a row's columns after the record's, and its newline.
// Each column is preceded by a comma. The suffix is the same for every row
// of a run.
func appendSuffix(b []byte, info RunInfo) []byte {
	for i, v := range info.settings() {
		b = append(b, ',')
		if v == 0 && emptyWhenZero(4+i) {
			continue
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	b = append(b, ',')
	b = appendFloat(b, UnixSeconds(info.Start))
	return append(b, '\n')
}

// appendRecord writes the index, time, code and elapsed columns of a row.
func appendRecord(b []byte, index int64, r Record) []byte {
	b = strconv.AppendInt(b, index, 10)
	b = append(b, ',')
	b = appendFloat(b, r.Latency.Seconds())
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Code), 10)
	b = append(b, ',')
	return appendFloat(b, r.Elapsed.Seconds())
}

// emptyWhenZero reports whether column col is written empty for a zero.
//
// That holds for batch_size and block_size. A run without token batches
// leaves them empty rather than fill them with a value that means nothing.
func emptyWhenZero(col int) bool { return col == batchSizeColumn || col == blockSizeColumn }

// validate refuses settings a history cannot hold.
func (info RunInfo) validate() error {
	for i, v := range info.settings() {
		if v < 0 {
			return fmt.Errorf("history: RunInfo %s = %d: want zero or more", columns[4+i], v)
		}
	}
	return nil
}

// validate refuses a record a history cannot hold.
func (r Record) validate() error {
	if r.Latency < 0 {
		return fmt.Errorf("history: Record latency (column time) = %v: want zero or more", r.Latency)
	}
	if r.Elapsed < 0 {
		return fmt.Errorf("history: Record elapsed = %v: want zero or more", r.Elapsed)
	}
	return nil
}

// maxSeconds bounds the float seconds accepted in a row: beyond it the
// nanoseconds overflow an int64.
const maxSeconds = math.MaxInt64 / 1e9

// parseRow parses one history row (without its newline). It parses the
// fields where they lie in line, without copying the row.
func parseRow(line []byte) (Row, *fieldError) {
	var row Row
	var fields [len(columns)][]byte
	rest := line
	for i := range fields {
		if i == len(fields)-1 {
			if bytes.IndexByte(rest, ',') >= 0 {
				return row, &fieldError{value: quote(line), reason: fmt.Sprintf("want %d comma-separated fields, got more", len(columns))}
			}
			fields[i] = rest
			break
		}
		j := bytes.IndexByte(rest, ',')
		if j < 0 {
			return row, &fieldError{value: quote(line), reason: fmt.Sprintf("want %d comma-separated fields, got %d", len(columns), i+1)}
		}
		fields[i], rest = rest[:j], rest[j+1:]
	}

	var err *fieldError
	if row.Index, err = parseInt(0, fields[0], math.MinInt64, math.MaxInt64); err != nil {
		return row, err
	}
	latency, err := parseFloat(1, fields[1], 0, maxSeconds)
	if err != nil {
		return row, err
	}
	row.Latency = fromSeconds(latency)
	code, err := parseInt(2, fields[2], math.MinInt32, math.MaxInt32)
	if err != nil {
		return row, err
	}
	row.Code = Code(code)
	elapsed, err := parseFloat(3, fields[3], 0, maxSeconds)
	if err != nil {
		return row, err
	}
	row.Elapsed = fromSeconds(elapsed)
	settings := [...]*int{&row.NProcesses, &row.NCalls, &row.BatchSize, &row.BlockSize, &row.WorldSize}
	for i, p := range settings {
		if len(fields[4+i]) == 0 && emptyWhenZero(4+i) {
			continue
		}
		v, err := parseInt(4+i, fields[4+i], 0, math.MaxInt)
		if err != nil {
			return row, err
		}
		*p = int(v)
	}
	start, err := parseFloat(9, fields[9], -maxSeconds, maxSeconds)
	if err != nil {
		return row, err
	}
	row.Start = fromUnixSeconds(start)
	return row, nil
}

// parseInt parses field, of column col, as an integer in [lo, hi]. It and
// parseFloat hand strconv string(field), which allocates nothing for a field
// of up to 32 bytes: strconv keeps no reference to it (its errors hold a
// copy), so the string lives in a buffer on the stack.
func parseInt(col int, field []byte, lo, hi int64) (int64, *fieldError) {
	v, err := strconv.ParseInt(string(field), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, &fieldError{column: columns[col], value: quote(field),
			reason: fmt.Sprintf("want a decimal integer in [%d, %d]", lo, hi)}
	}
	return v, nil
}

// parseFloat parses field, of column col, as a number of seconds in
// [lo, hi].
func parseFloat(col int, field []byte, lo, hi float64) (float64, *fieldError) {
	v, err := strconv.ParseFloat(string(field), 64)
	if err != nil || !(v >= lo && v <= hi) {
		return 0, &fieldError{column: columns[col], value: quote(field),
			reason: fmt.Sprintf("want a decimal number of seconds in [%g, %g]", lo, hi)}
	}
	return v, nil
}
