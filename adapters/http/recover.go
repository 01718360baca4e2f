package http

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover answers a panicking request with a bare problem+json 500 and logs
// the panic with the request's ID, so a bug in one handler neither leaks internals nor kills the
// connection without an answer.
func Recover(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			logger.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeProblem(w, http.StatusInternalServerError, "Internal Server Error", "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}
