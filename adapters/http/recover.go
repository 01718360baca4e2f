package http

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover answers a panicking request with a bare problem+json 500 and logs
// the panic, so a bug in one handler neither leaks internals nor kills the
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
			logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"title":"Internal Server Error","status":500,"detail":"internal error"}` + "\n"))
		}()
		next.ServeHTTP(w, r)
	})
}
