package open311

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// format is how an answer is written: JSON or XML, as the path ends.
type format string

const (
	formatJSON format = "json"
	formatXML  format = "xml"
)

// splitFile splits "name.json" into its name and format.
func splitFile(file string) (string, format, bool) {
	ext := path.Ext(file)
	name, f := strings.TrimSuffix(file, ext), format(strings.TrimPrefix(ext, "."))
	if f != formatJSON && f != formatXML {
		return name, formatJSON, false
	}
	return name, f, true
}

// formatOf is the format a path asks for, JSON unless it ends in ".xml".
func formatOf(p string) format {
	if strings.HasSuffix(p, ".xml") {
		return formatXML
	}
	return formatJSON
}

// write writes doc in the format: JSON as it is, XML from encoding/xml with
// its declaration; both UTF-8.
func write(w http.ResponseWriter, f format, code int, doc any) {
	var body []byte
	var err error
	if f == formatXML {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		body, err = xml.Marshal(doc)
		body = append([]byte(xml.Header), body...)
	} else {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		body, err = json.Marshal(doc)
	}
	if err != nil {
		http.Error(w, "the answer could not be encoded; report this to the city's administrators", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// Error is an error as the standard answers it: an HTTP status and words.
type Error struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
	// retryAfter is the seconds to wait, for a 429.
	retryAfter int
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Description) }

func badRequest(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Description: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Code: http.StatusNotFound, Description: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *Error {
	return &Error{Code: http.StatusForbidden, Description: fmt.Sprintf(format, args...)}
}

// errorsXML is the standard's XML for errors.
type errorsXML struct {
	XMLName xml.Name `xml:"errors"`
	Errors  []*Error `xml:"error"`
}

// writeErrors answers an error: a JSON array of {code, description}, or
// <errors><error>…</error></errors>.
func writeErrors(w http.ResponseWriter, f format, e *Error) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.retryAfter))
	}
	if f == formatXML {
		write(w, f, e.Code, errorsXML{Errors: []*Error{e}})
		return
	}
	write(w, f, e.Code, []*Error{e})
}

// asError maps an error to the standard's: the gateway's own as they are,
// gRPC statuses by their code, with the server's words.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Code: http.StatusInternalServerError, Description: "the request failed inside the gateway; retry, and report it if it persists"}
	}
	msg := st.Message()
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return badRequest("%s", msg)
	case codes.Unauthenticated, codes.PermissionDenied:
		return forbidden("%s", msg)
	case codes.NotFound:
		return notFound("%s", msg)
	case codes.AlreadyExists:
		return &Error{Code: http.StatusConflict, Description: msg}
	case codes.ResourceExhausted:
		return &Error{Code: http.StatusTooManyRequests, Description: msg, retryAfter: 60}
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return &Error{Code: http.StatusServiceUnavailable, Description: "Whistle is busy or restarting: retry in a minute", retryAfter: 60}
	default:
		return &Error{Code: http.StatusInternalServerError, Description: "the request failed inside Whistle; retry, and report it if it persists"}
	}
}
