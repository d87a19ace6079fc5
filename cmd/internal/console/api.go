package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "github.com/whistle-civic/whistle/pkg/gen/whistle/v1" // registers the API's descriptors
)

// MaxBody bounds a call's JSON request.
const MaxBody = 1 << 20

// call is POST /api/v1/<Service>/<Method>: the JSON body as the method's
// request (protojson), the caller's Authorization header passed on, the
// response as JSON. Only unary whistle.v1 methods are served.
func (c *Console) call(w http.ResponseWriter, r *http.Request) {
	md, err := c.method(r.PathValue("service"), r.PathValue("method"))
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send the request as application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the request is larger than 1 MiB")
		return
	}
	req := dynamicpb.NewMessage(md.Input())
	if len(body) > 0 {
		if err := (protojson.UnmarshalOptions{}).Unmarshal(body, req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("the request is not a %s: %v", md.Input().Name(), err))
			return
		}
	}
	ctx, cancel := c.withTimeout(asUser(r))
	defer cancel()
	resp := dynamicpb.NewMessage(md.Output())
	full := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	if err := c.cfg.Conn.Invoke(ctx, full, req, resp); err != nil {
		st := status.Convert(err)
		if httpStatus(st.Code()) >= 500 {
			c.cfg.Log.WarnContext(r.Context(), "console call failed", "method", full, "code", st.Code(), "err", st.Message())
		}
		writeError(w, httpStatus(st.Code()), st.Message())
		return
	}
	out, err := protojson.MarshalOptions{EmitUnpopulated: false, UseProtoNames: true}.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the answer could not be encoded")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(out)
}

// method finds a unary whistle.v1 method by its service and method names.
func (c *Console) method(service, method string) (protoreflect.MethodDescriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName("whistle.v1." + service))
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if err != nil || !ok {
		return nil, fmt.Errorf("no API %q: the console calls whistle.v1 services, e.g. MonitoringService", service)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil || md.IsStreamingClient() || md.IsStreamingServer() {
		return nil, fmt.Errorf("%s has no unary method %q", service, method)
	}
	return md, nil
}

// httpStatus is the HTTP status of a gRPC code.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unavailable, codes.DeadlineExceeded:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers {"message": …}, the words the API gave.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// users is GET /session/users: the sample users of a development console,
// and whether it signs in with the city's identity provider (oidc).
func (c *Console) users(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	users := c.cfg.Users
	if users == nil {
		users = []User{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"users": users, "city": c.cfg.City, "oidc": c.oidc != nil})
}

// signIn is POST /session {"user": name}: a sample user's token, in a
// development console only (a deployment's users bring their identity
// provider's token).
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, `send {"user": "<a sample user's name>"}`)
		return
	}
	for _, u := range c.cfg.Users {
		if u.Name == in.User {
			tok, err := u.Token()
			if err != nil {
				writeError(w, http.StatusInternalServerError, "no token for "+u.Name+": restart whistle dev")
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "role": u.Role, "org_unit": u.OrgUnit, "name": u.Name})
			return
		}
	}
	writeError(w, http.StatusNotFound, "no sample user "+fmt.Sprintf("%q", in.User)+": sign in with a token from the city's identity provider")
}
