package serve

import (
	"fmt"
	"net/http"
)

// ErrorCode is the machine-readable "code" of an error response.
type ErrorCode string

// Error codes, with the HTTP status each is sent with.
const (
	CodeUnauthorized     ErrorCode = "unauthorized"           // 401: API key missing or wrong
	CodeNotFound         ErrorCode = "not_found"              // 404: no such route
	CodeMethodNotAllowed ErrorCode = "method_not_allowed"     // 405
	CodeUnsupportedType  ErrorCode = "unsupported_media_type" // 415: not JSON (or multipart for /v1/predict)
	CodeBodyTooLarge     ErrorCode = "body_too_large"         // 413: over Config.MaxBodyBytes
	CodeImageTooLarge    ErrorCode = "image_too_large"        // 413: over Config.MaxPixels
	CodeBatchTooLarge    ErrorCode = "batch_too_large"        // 413: over Config.MaxInstances
	CodeMalformedJSON    ErrorCode = "malformed_json"         // 400: not valid JSON, or not the expected shape
	CodeMalformedForm    ErrorCode = "malformed_multipart"    // 400: unreadable multipart body
	CodeMissingImage     ErrorCode = "missing_image"          // 400: no image given
	CodeInvalidImage     ErrorCode = "invalid_image"          // 400: not base64, or not a decodable image
	CodeUnknownField     ErrorCode = "unknown_field"          // 400: a request key or metadata column the model does not know
	CodeInvalidType      ErrorCode = "invalid_type"           // 400: a metadata value that is an object or array
	CodeInvalidValue     ErrorCode = "invalid_value"          // 400: a metadata value the schema cannot encode
	CodeMissingField     ErrorCode = "missing_field"          // 400: a required metadata column is missing
	CodeEmptyBatch       ErrorCode = "empty_batch"            // 400: a batch without instances
	CodeOverloaded       ErrorCode = "overloaded"             // 429: the queue is full; retry after Retry-After
	CodeShuttingDown     ErrorCode = "shutting_down"          // 503
	CodeTimeout          ErrorCode = "timeout"                // 503: no prediction within Config.RequestTimeout
	CodeClientClosed     ErrorCode = "client_closed"          // 499 (logs and metrics only): the client went away first
	CodeInternal         ErrorCode = "internal"               // 500
)

// apiError is a refused request: the status and the body's error object.
type apiError struct {
	Status  int       `json:"-"`
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	Field   string    `json:"field"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func errorf(status int, code ErrorCode, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func badRequest(code ErrorCode, field, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, code, field, format, args...)
}

// errorBody is the JSON of an error response.
type errorBody struct {
	Error *apiError `json:"error"`
}
