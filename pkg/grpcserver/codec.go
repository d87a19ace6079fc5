package grpcserver

import (
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// requestCodec is the server's codec: gRPC's protobuf codec, except for
// requests that do not decode (bad wire format, or invalid UTF-8 in a proto3
// string). gRPC turns any codec error into codes.Internal, a server fault,
// before an interceptor runs, so a codec cannot refuse such a request itself.
// Instead requestCodec empties the message, remembers why it did not decode,
// and reports success; the first request-check interceptor (checkDecoded)
// then refuses the call with codes.InvalidArgument.
//
// Every message the codec marks is unmarked by that interceptor, because New
// installs both: unary handlers decode just before the interceptor chain runs,
// and streaming handlers receive through the stream the interceptor wraps.
type requestCodec struct {
	base encoding.CodecV2
	// failed maps a request message (its pointer) to its decode error.
	failed sync.Map
}

func newRequestCodec() (*requestCodec, error) {
	base := encoding.GetCodecV2(grpcproto.Name)
	if base == nil {
		return nil, fmt.Errorf("gRPC's %q codec is not registered", grpcproto.Name)
	}
	return &requestCodec{base: base}, nil
}

// Marshal encodes responses exactly as gRPC's protobuf codec does.
func (c *requestCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal decodes a request; see requestCodec for what happens when it
// does not decode.
func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err // not a protobuf message: a server bug, and gRPC says Internal
	}
	proto.Reset(m)
	name := m.ProtoReflect().Descriptor().FullName()
	// protobuf-go puts non-breaking spaces in its messages on purpose (so that
	// nobody matches on them); show plain ones to people.
	why := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	c.failed.Store(v, status.Errorf(codes.InvalidArgument,
		"request does not decode as %s: %s: send %s encoded as protobuf, with every string valid UTF-8", name, why, name))
	return nil
}

// Name is "proto", so the codec serves the content subtype of gRPC's own.
func (c *requestCodec) Name() string { return c.base.Name() }

// decodeError returns, and forgets, the reason m did not decode; nil when it
// decoded.
func (c *requestCodec) decodeError(m any) error {
	if err, ok := c.failed.LoadAndDelete(m); ok {
		return err.(error)
	}
	return nil
}
