package main

import (
	"io"
	"testing"
	"time"
)

func TestPostgresConfig(t *testing.T) {
	env := map[string]string{
		"AGGREGATOR_STORE":                      "postgres",
		"AGGREGATOR_POSTGRES_DSN":               "postgres://agg@db:5432/agg",
		"AGGREGATOR_POSTGRES_MAX_CONNS":         "7",
		"AGGREGATOR_POSTGRES_CONN_MAX_LIFETIME": "5m",
	}
	cfg, err := parseConfig("test", []string{"-postgres-max-conns", "3"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "postgres" || cfg.PostgresDSN != env["AGGREGATOR_POSTGRES_DSN"] || cfg.PostgresMaxConns != 3 || cfg.PostgresConnMaxAge != 5*time.Minute {
		t.Fatalf("config = %+v", cfg)
	}
	for name, bad := range map[string]map[string]string{
		"NoDSN":        {"AGGREGATOR_STORE": "postgres"},
		"NoConns":      {"AGGREGATOR_STORE": "postgres", "AGGREGATOR_POSTGRES_DSN": "postgres://x/y", "AGGREGATOR_POSTGRES_MAX_CONNS": "0"},
		"BadLifetime":  {"AGGREGATOR_STORE": "postgres", "AGGREGATOR_POSTGRES_DSN": "postgres://x/y", "AGGREGATOR_POSTGRES_CONN_MAX_LIFETIME": "soon"},
		"UnknownStore": {"AGGREGATOR_STORE": "mysql"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseConfig("test", nil, func(k string) string { return bad[k] }, io.Discard); err == nil {
				t.Fatalf("parseConfig accepted %v", bad)
			}
		})
	}
}
