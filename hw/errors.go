package hw

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is one problem in a hardware description, located by file, line and
// key. It prints as "FILE:LINE: KEY: message"; the line is left out when it
// is unknown (0) and the key when the problem concerns the whole file.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown
	Key  string // dotted path with indices, e.g. "memory[0].bytes_per_second"
	Msg  string
	Err  error // underlying error (e.g. of a used device file), may be nil
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// maxErrors bounds how many problems one load reports.
const maxErrors = 20

// problems collects located errors for one file.
type problems struct {
	file string
	ix   *lineIndex
	errs []error
	more int
}

func (p *problems) add(key, format string, args ...any) {
	p.addAt(p.ix.line(key), key, fmt.Sprintf(format, args...), nil)
}

func (p *problems) addAt(line int, key, msg string, err error) {
	if len(p.errs) >= maxErrors {
		p.more++
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Msg: msg, Err: err})
}

func (p *problems) ok() bool { return len(p.errs) == 0 }

// err joins the problems (nil when none); each stays an *Error for
// errors.As.
func (p *problems) err() error {
	errs := p.errs
	if p.more > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("%s: and %d more problems", p.file, p.more))
	}
	return errors.Join(errs...)
}
