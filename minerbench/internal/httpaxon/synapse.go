package httpaxon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// PingName is the synapse every axon answers: Bittensor's base Synapse,
// without fields of its own.
const PingName = "Synapse"

// Synapse is one kind of synapse an axon serves, as Handle and HandleStream
// build it from a Go struct.
type Synapse struct {
	// Name is the synapse's class name, the request path's only segment.
	Name string
	// Fields are the synapse's own fields, in declaration order; a
	// required one needs a bt_header_input_obj_ header.
	Fields []synapse.Field

	serve func(ctx context.Context, c *call) error // decodes, checks the hash, answers

	emptyHash string      // body hash of the header synapse, whose fields are empty
	inputObjs [][2]string // name and value of each required field's input_obj header
	streaming bool
}

// Header is a request's header synapse: its name and what its headers say,
// which the blacklist sees before the signature is checked.
type Header struct {
	// Name is the synapse's name, from the request's path.
	Name string
	// Request is what the headers say: the timeout, the dendrite's and
	// the claimed axon's terminal fields, the body hash.
	synapse.Request
}

// call is one request being answered: its header synapse, its body (read
// in full, at most MaxBodyBytes), and where the answer goes.
type call struct {
	header *Header
	body   []byte

	answer       *answer
	stream       func(*call) http.ResponseWriter
	writeTimeout time.Duration
	hashBuf      [synapse.BodyHashSize]byte
}

// answer is what a non-streaming handler answered.
type answer struct {
	status   int    // 0 means 200
	message  string // "" means "Success" for 200
	fields   []byte // the synapse's own fields as JSON object members, without braces
	bodyHash string
}

// StatusError is a handler's refusal with an HTTP status and a message, as
// a Bittensor forward raising a SynapseException with axon.status_code set:
// the call is answered Code with {"message": Message}.
type StatusError struct {
	Code    int
	Message string
}

// Error returns the message with its code.
func (e *StatusError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// Status lets a handler answer with its own status, as a Bittensor forward
// setting synapse.axon.status_code and returning: the answer carries the
// whole synapse, as on success, with that code and message.
type Status struct {
	Code    int
	Message string
}

// Statuser is implemented by a synapse struct that sets its own status.
type Statuser interface {
	// AxonStatus returns the answer's status; a zero Code means 200.
	AxonStatus() Status
}

// errBadBody marks a request body that does not decode or whose hash
// fields do not match the signed hash: answered 500, as Bittensor's
// verify_body_integrity.
var errBadBody = errors.New("httpaxon: request body")

// fieldSpec is what Handle learns of a synapse struct's field from its tags.
type fieldSpec struct {
	json     string
	kind     synapse.Kind
	required bool
	hash     bool
}

// parseFields reads the fields of struct type t: the JSON name from the json
// tag, and `synapse:"required"` and `synapse:"hash"` (or both,
// "required,hash").
func parseFields(t reflect.Type) ([]fieldSpec, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("httpaxon: synapse type %s: want a struct", t)
	}
	var out []fieldSpec
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if reserved[name] {
			return nil, fmt.Errorf("httpaxon: synapse type %s: field %s: JSON name %q is a base Synapse field, which the axon fills; want another name", t, f.Name, name)
		}
		spec := fieldSpec{json: name, kind: kindOf(f.Type)}
		for opt := range strings.SplitSeq(f.Tag.Get("synapse"), ",") {
			switch opt {
			case "":
			case "required":
				spec.required = true
			case "hash":
				spec.hash = true
			default:
				return nil, fmt.Errorf("httpaxon: synapse type %s: field %s: synapse tag option %q; want required or hash", t, f.Name, opt)
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

// reserved are the base Synapse's fields, which the axon handles.
var reserved = map[string]bool{
	"name": true, "timeout": true, "total_size": true, "header_size": true,
	"dendrite": true, "axon": true, "computed_body_hash": true, "required_hash_fields": true,
}

// kindOf returns the Python type of a field of Go type t, as its
// bt_header_input_obj_ header needs it.
func kindOf(t reflect.Type) synapse.Kind {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return synapse.KindStr
	case reflect.Bool:
		return synapse.KindBool
	case reflect.Float32, reflect.Float64:
		return synapse.KindFloat
	case reflect.Slice, reflect.Array:
		return synapse.KindList
	case reflect.Struct, reflect.Map:
		return synapse.KindDict
	}
	return synapse.KindInt
}

// spec is the compiled form of a synapse struct type.
type spec struct {
	name      string
	fields    []synapse.Field
	hash      []string // the hash fields, in order
	required  []string // the fields without a default
	emptyHash string   // body hash of the zero value
}

func compile(t reflect.Type) (*spec, error) {
	fields, err := parseFields(t)
	if err != nil {
		return nil, err
	}
	s := &spec{name: t.Name()}
	if s.name == "" || s.name == PingName {
		return nil, fmt.Errorf("httpaxon: synapse type %s: want a named struct type other than %s", t, PingName)
	}
	for _, f := range fields {
		s.fields = append(s.fields, synapse.Field{Name: f.json, Kind: f.kind, Required: f.required})
		if f.hash {
			s.hash = append(s.hash, f.json)
		}
		if f.required {
			s.required = append(s.required, f.json)
		}
	}
	zero, err := members(reflect.New(t).Interface())
	if err == nil {
		var h []byte
		h, err = s.hashOf(nil, zero)
		s.emptyHash = string(h)
	}
	if err != nil {
		return nil, fmt.Errorf("httpaxon: synapse type %s: %w", t, err)
	}
	return s, nil
}

// Description is what Handle reads of a synapse struct type: what a client
// needs to build its requests.
type Description struct {
	// Name is the synapse's name, the type's.
	Name string
	// Fields are its own fields in declaration order.
	Fields []synapse.Field
	// Hash names its hash fields (required_hash_fields), in order.
	Hash []string
}

// Describe returns the Description of synapse struct type S, or the error
// Handle would return for it.
func Describe[S any]() (Description, error) {
	sp, err := compile(reflect.TypeFor[S]())
	if err != nil {
		return Description{}, err
	}
	return Description{Name: sp.name, Fields: sp.fields, Hash: sp.hash}, nil
}

// hashOf appends the body hash of a synapse whose own fields are the JSON
// object members fields.
func (s *spec) hashOf(dst, fields []byte) ([]byte, error) {
	if len(s.hash) == 0 {
		return append(dst, synapse.EmptyBodyHash...), nil
	}
	obj := make([]byte, 0, len(fields)+2)
	obj = append(append(append(obj, '{'), fields...), '}')
	return synapse.AppendBodyHash(dst, obj, s.hash)
}

// members returns the JSON of v, a pointer to a struct, without its braces.
func members(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("httpaxon: synapse %T encodes as %.20q; want a JSON object", v, b)
	}
	return b[1 : len(b)-1], nil
}

// Handle returns the Synapse named after S that decodes each request into
// a new S and answers it with fn's changes to it.
//
// S's exported fields are the synapse's own, named by their json tags as in
// Python; tag a field `synapse:"required"` when the Python field has no
// default, and `synapse:"hash"` when it is in required_hash_fields (list
// them in declaration order, as Bittensor asks). The base Synapse's fields
// are the axon's. An error from fn is answered 500, a *StatusError its own
// code; an S implementing Statuser sets the answer's status.
func Handle[S any](fn func(ctx context.Context, s *S) error) (Synapse, error) {
	return build(false, func(ctx context.Context, sp *spec, c *call, s *S) error {
		if err := fn(ctx, s); err != nil {
			return err
		}
		return c.answerWith(sp, s)
	})
}

// build returns the Synapse named after S whose requests, once decoded and
// their hash checked, serve answers.
func build[S any](streaming bool, serve func(ctx context.Context, sp *spec, c *call, s *S) error) (Synapse, error) {
	sp, err := compile(reflect.TypeFor[S]())
	if err != nil {
		return Synapse{}, err
	}
	var inputObjs [][2]string
	for _, f := range sp.fields {
		if f.Required {
			inputObjs = append(inputObjs, [2]string{synapse.PrefixInputObj + f.Name, f.Kind.InputObj()})
		}
	}
	return Synapse{Name: sp.name, Fields: sp.fields, emptyHash: sp.emptyHash, inputObjs: inputObjs, streaming: streaming, serve: func(ctx context.Context, c *call) error {
		s, err := decode[S](sp, c)
		if err != nil {
			return err
		}
		return serve(ctx, sp, c, s)
	}}, nil
}

// decode checks the hash fields of c's body against the header's
// computed_body_hash, and that it has every required field, as pydantic
// requires, then decodes the body into a new S.
func decode[S any](sp *spec, c *call) (*S, error) {
	if err := checkHash(c, sp.hash); err != nil {
		return nil, err
	}
	if len(sp.required) > 0 {
		var buf [8][]byte
		values, err := synapse.FieldValues(buf[:0], c.body, sp.required)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadBody, err)
		}
		for i, v := range values {
			if v == nil {
				return nil, fmt.Errorf("%w: no required field %q", errBadBody, sp.required[i])
			}
		}
	}
	s := new(S)
	if err := json.Unmarshal(c.body, s); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return s, nil
}

// checkHash checks the body hash of c's body, whose hash fields are hash,
// against the header's computed_body_hash, as Bittensor's
// verify_body_integrity does.
func checkHash(c *call, hash []string) error {
	got := []byte(synapse.EmptyBodyHash)
	if len(hash) > 0 {
		var err error
		if got, err = synapse.AppendBodyHash(c.hashBuf[:0], c.body, hash); err != nil {
			return fmt.Errorf("%w: %v", errBadBody, err)
		}
	}
	if !c.header.BodyHash.OK || string(got) != c.header.BodyHash.V {
		return fmt.Errorf("%w: hash of the body's hash fields %s differs from the signed computed_body_hash %q", errBadBody, got, c.header.BodyHash.V)
	}
	return nil
}

// answerWith records s, the handler's result, as c's answer.
func (c *call) answerWith(sp *spec, s any) error {
	fields, err := members(s)
	if err != nil {
		return err
	}
	h, err := sp.hashOf(c.hashBuf[:0], fields)
	if err != nil {
		return err
	}
	a := &answer{fields: fields, bodyHash: string(h)}
	if st, ok := s.(Statuser); ok {
		status := st.AxonStatus()
		a.status, a.message = status.Code, status.Message
	}
	c.answer = a
	return nil
}

// ChunkWriter writes a streaming synapse's answer: each Write goes to the
// client at once, as one chunk.
type ChunkWriter interface {
	io.Writer
}

// HandleStream returns the streaming Synapse named after S: its answer is a
// text/event-stream of the raw chunks fn writes, sent as it writes them,
// with status 200 and headers computed from the request synapse before the
// stream, as Bittensor's StreamingSynapse. An error fn returns before its
// first write is answered 500; after it, the stream ends.
func HandleStream[S any](fn func(ctx context.Context, s *S, w ChunkWriter) error) (Synapse, error) {
	return build(true, func(ctx context.Context, sp *spec, c *call, s *S) error {
		if err := c.answerWith(sp, s); err != nil {
			return err
		}
		return fn(ctx, s, &chunkWriter{call: c})
	})
}

// chunkWriter starts the stream's response on its first Write and flushes
// every Write.
type chunkWriter struct {
	call *call
	w    http.ResponseWriter
}

func (cw *chunkWriter) Write(p []byte) (int, error) {
	if cw.w == nil {
		cw.w = cw.call.stream(cw.call)
	}
	rc := http.NewResponseController(cw.w)
	_ = rc.SetWriteDeadline(time.Now().Add(cw.call.writeTimeout))
	n, err := cw.w.Write(p)
	if err == nil {
		err = rc.Flush()
	}
	return n, err
}
