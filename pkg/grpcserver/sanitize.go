package grpcserver

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CheckStrings checks every string in m, at any depth (nested messages,
// repeated fields, map keys and values, extensions), and returns a
// codes.InvalidArgument status naming the first bad one, or nil. A string is
// bad when it is not valid UTF-8, holds a control character — C0
// (U+0000–U+001F) except tab, line feed and carriage return, DEL (U+007F), or
// C1 (U+0080–U+009F) — or holds a bidirectional embedding, override or
// isolate (U+202A–U+202E, U+2066–U+2069), which make text display in another
// order than it is stored ("Trojan Source"). The implicit direction marks
// (U+200E, U+200F, U+061C) only nudge neutral characters and stay allowed, so
// that text mixing Arabic or Hebrew with Latin script can be written; the
// identifier fields refuse them anyway by their ASCII patterns. Bytes fields
// are not text and are not checked; neither are unknown fields.
//
// Fields are checked in field-number order and map entries in key order, so
// the same request always gets the same answer. The message names the field
// by its path of proto field names, e.g. "location.address",
// "related_ticket_ids[2]" or `labels["k"]`, and the byte offset in the string:
// "description: control character U+0007 at byte 12: remove it".
//
// New runs CheckStrings on every request, before protovalidate.
func CheckStrings(m proto.Message) error {
	if m == nil {
		return nil
	}
	return checkMessage(m.ProtoReflect(), "")
}

func checkMessage(m protoreflect.Message, path string) error {
	if !m.IsValid() {
		return nil
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		if err := checkValue(fd, m.Get(fd), join(path, string(fd.Name()))); err != nil {
			return err
		}
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() {
			err = checkValue(fd, v, join(path, "["+string(fd.FullName())+"]"))
		}
		return err == nil
	})
	return err
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	switch {
	case fd.IsList():
		list := v.List()
		for i := 0; i < list.Len(); i++ {
			if err := checkSingular(fd, list.Get(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	case fd.IsMap():
		entries := v.Map()
		keys := make([]protoreflect.MapKey, 0, entries.Len())
		entries.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys = append(keys, k)
			return true
		})
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			key := k.String()
			if fd.MapKey().Kind() == protoreflect.StringKind {
				if err := checkText(key, path+" key "+strconv.Quote(key)); err != nil {
					return err
				}
				key = strconv.Quote(key)
			}
			if err := checkSingular(fd.MapValue(), entries.Get(k), path+"["+key+"]"); err != nil {
				return err
			}
		}
		return nil
	}
	return checkSingular(fd, v, path)
}

func checkSingular(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return checkText(v.String(), path)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(v.Message(), path)
	}
	return nil
}

// checkText returns an InvalidArgument status for the first invalid UTF-8
// sequence or control character (other than \t, \n and \r) in s.
func checkText(s, path string) error {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
				return controlError(path, rune(c), i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return status.Errorf(codes.InvalidArgument, "%s: invalid UTF-8 at byte %d: send text encoded as UTF-8", path, i)
		}
		if r <= 0x9f { // C1 controls, U+0080–U+009F
			return controlError(path, r, i)
		}
		if isBidiControl(r) {
			return status.Error(codes.InvalidArgument, fmt.Sprintf(
				"%s: bidirectional control character %U at byte %d: remove it (embeddings, overrides and isolates make text read otherwise than it is stored)",
				path, r, i))
		}
		i += size
	}
	return nil
}

// isBidiControl reports whether r is a bidirectional embedding, override or
// isolate (U+202A–U+202E, U+2066–U+2069), which CheckStrings refuses.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func controlError(path string, r rune, at int) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf("%s: control character %U at byte %d: remove it", path, r, at))
}

// unaryRequestChecks refuses, with codes.InvalidArgument, unary requests that
// did not decode (see requestCodec) or whose text fails CheckStrings.
func unaryRequestChecks(c *requestCodec) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := checkRequest(c, req); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// streamRequestChecks is unaryRequestChecks for every message a streaming
// call receives.
func streamRequestChecks(c *requestCodec) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, &checkedStream{ServerStream: ss, codec: c})
	}
}

// checkedStream runs the request checks on every message received.
type checkedStream struct {
	grpc.ServerStream
	codec *requestCodec
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return checkRequest(s.codec, m)
}

func checkRequest(c *requestCodec, req any) error {
	if err := c.decodeError(req); err != nil {
		return err
	}
	if m, ok := req.(proto.Message); ok {
		return CheckStrings(m)
	}
	return nil
}
