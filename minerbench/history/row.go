package history

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// FormatError reports a file that is not a well-formed history: Open refuses
// to append to it and Read stops at it.
type FormatError struct {
	// Path names the file.
	Path string
	// Line is the 1-based line of the problem, or 0 when the problem is the
	// file as a whole (an empty file).
	Line int
	// Column names the offending column, or is empty when the problem is the
	// whole line.
	Column string
	// Value is the offending text, shortened when long.
	Value string
	// Reason says what is wrong and what is accepted.
	Reason string
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

// maxQuote bounds the offending text kept in a FormatError.
const maxQuote = 80

func quote(b []byte) string {
	if len(b) > maxQuote {
		return string(b[:maxQuote]) + "..."
	}
	return string(b)
}

// checkHeader reports whether line (without its newline) is the history
// header, as a FormatError on line 1 when it is not.
func checkHeader(path string, line []byte) error {
	if string(line) == Header {
		return nil
	}
	return &FormatError{Path: path, Line: 1, Value: quote(line),
		Reason: "not a query history: want the header " + strconv.Quote(Header)}
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

// appendFloat writes v in the shortest decimal form that reads back as the
// same float64 (Go's ParseFloat and Python's float() both round-trip it),
// without an exponent, like Python's repr of time.time().
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// unixSeconds is t as float Unix seconds, as Python's time.time() gives it.
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// fromUnixSeconds is the time of float Unix seconds s, to the nearest
// nanosecond the float can tell.
func fromUnixSeconds(s float64) time.Time {
	sec := math.Floor(s)
	nsec := math.Round((s - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec))
}

// fromSeconds is the duration of float seconds s, to the nearest nanosecond.
func fromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s * 1e9))
}

// appendRunInfo writes the settings columns of a row, each preceded by a
// comma, and the row's newline.
func appendRunInfo(b []byte, info RunInfo) []byte {
	for _, v := range [...]int{info.NProcesses, info.NCalls, info.BatchSize, info.BlockSize, info.WorldSize} {
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, '\n')
}

// appendRecord writes the index, time, code and elapsed columns of a row,
// without the trailing settings columns.
func appendRecord(b []byte, index int64, r Record) []byte {
	b = strconv.AppendInt(b, index, 10)
	b = append(b, ',')
	b = appendFloat(b, unixSeconds(r.Time))
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Code), 10)
	b = append(b, ',')
	return appendFloat(b, r.Elapsed.Seconds())
}

// validate refuses settings a history cannot hold.
func (info RunInfo) validate() error {
	for i, v := range [...]int{info.NProcesses, info.NCalls, info.BatchSize, info.BlockSize, info.WorldSize} {
		if v < 0 {
			return fmt.Errorf("history: RunInfo %s = %d: want zero or more", columns[4+i], v)
		}
	}
	return nil
}

// maxSeconds bounds the float seconds accepted for a time or an elapsed
// value: beyond it the nanoseconds overflow an int64.
const maxSeconds = math.MaxInt64 / 1e9

// parseRow parses one history row (without its newline).
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
	secs, err := parseFloat(1, fields[1], -maxSeconds, maxSeconds)
	if err != nil {
		return row, err
	}
	row.Time = fromUnixSeconds(secs)
	code, err := parseInt(2, fields[2], math.MinInt32, math.MaxInt32)
	if err != nil {
		return row, err
	}
	row.Code = wire.ReturnCode(code)
	elapsed, err := parseFloat(3, fields[3], 0, maxSeconds)
	if err != nil {
		return row, err
	}
	row.Elapsed = fromSeconds(elapsed)
	info := [...]*int{&row.NProcesses, &row.NCalls, &row.BatchSize, &row.BlockSize, &row.WorldSize}
	for i, p := range info {
		v, err := parseInt(4+i, fields[4+i], 0, math.MaxInt)
		if err != nil {
			return row, err
		}
		*p = int(v)
	}
	return row, nil
}

func parseInt(col int, field []byte, lo, hi int64) (int64, *fieldError) {
	v, err := strconv.ParseInt(string(field), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, &fieldError{column: columns[col], value: quote(field),
			reason: fmt.Sprintf("want a decimal integer in [%d, %d]", lo, hi)}
	}
	return v, nil
}

func parseFloat(col int, field []byte, lo, hi float64) (float64, *fieldError) {
	v, err := strconv.ParseFloat(string(field), 64)
	if err != nil || !(v >= lo && v <= hi) {
		return 0, &fieldError{column: columns[col], value: quote(field),
			reason: fmt.Sprintf("want a decimal number of seconds in [%g, %g]", lo, hi)}
	}
	return v, nil
}
