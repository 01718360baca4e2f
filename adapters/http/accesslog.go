package http

import (
	"log/slog"
	"net/http"
	"time"
)

// AccessLog logs one line per request at debug level: method, path,
// status, bytes written and time taken, and through LogHandler the request
// ID and the name of the API key it used (never the key). Placed inside
// Authenticate, it sees the key's name. At info level and above it costs
// one Enabled check.
func AccessLog(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logger.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "bytes", sw.bytes, "took", time.Since(start))
	})
}

// statusWriter remembers the status and counts the bytes of an answer.
// Unwrap lets http.ResponseController reach the connection's Flush and
// deadlines, which event streams use.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote && code >= 200 {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
