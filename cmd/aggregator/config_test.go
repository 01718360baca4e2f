package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func parseEnv(vars map[string]string, args ...string) (config, error) {
	return parseConfig("test", args, func(k string) string { return vars[k] }, io.Discard)
}

// Each variable goes through its flag's own parser: anything that is not
// exactly a number, a duration or an allowed value stops the server.
func TestConfigRejectsWhatItCannotParseExactly(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"BatchWithSuffix":      {"AGGREGATOR_MAX_BATCH": "10k"},
		"BatchInExponentForm":  {"AGGREGATOR_MAX_BATCH": "1e3"},
		"PayloadWithUnit":      {"AGGREGATOR_MAX_PAYLOAD_BYTES": "64KiB"},
		"PayloadTrailingJunk":  {"AGGREGATOR_MAX_PAYLOAD_BYTES": "10abc"},
		"BodyDecimal":          {"AGGREGATOR_MAX_BODY_BYTES": "1.5"},
		"UnknownLogDuplicates": {"AGGREGATOR_LOG_DUPLICATES": "sometimes"},
		"ShutdownTooShort":     {"AGGREGATOR_SHUTDOWN_TIMEOUT": "1ns"},
		"ShutdownNotADuration": {"AGGREGATOR_SHUTDOWN_TIMEOUT": "soon"},
		"PayloadOverBody":      {"AGGREGATOR_MAX_PAYLOAD_BYTES": "2000000", "AGGREGATOR_MAX_BODY_BYTES": "1000000"},
		"UnknownLogLevel":      {"AGGREGATOR_LOG_LEVEL": "loud"},
		"UnknownLogFormat":     {"AGGREGATOR_LOG_FORMAT": "xml"},
		"UnknownSynchronous":   {"AGGREGATOR_SQLITE_SYNCHRONOUS": "off"},
		"UnknownStore":         {"AGGREGATOR_STORE": "redis"},
		"QueueZero":            {"AGGREGATOR_MAX_QUEUE": "0"},
		"WaitTooShort":         {"AGGREGATOR_MAX_WAIT": "1ms"},
		"WriteNotOverWait":     {"AGGREGATOR_MAX_WAIT": "10s", "AGGREGATOR_WRITE_TIMEOUT": "10s"},
		"ReadUnderHeader":      {"AGGREGATOR_READ_TIMEOUT": "1s", "AGGREGATOR_READ_HEADER_TIMEOUT": "2s"},
		"IdleZero":             {"AGGREGATOR_IDLE_TIMEOUT": "0s"},
		"HeaderBytesTiny":      {"AGGREGATOR_MAX_HEADER_BYTES": "100"},
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := parseEnv(vars); err == nil {
				t.Fatalf("%v accepted: %+v", vars, c)
			}
		})
	}
}

func TestConfigErrorNamesVariableAndValue(t *testing.T) {
	_, err := parseEnv(map[string]string{"AGGREGATOR_MAX_BATCH": "10k"})
	if err == nil || !strings.Contains(err.Error(), `AGGREGATOR_MAX_BATCH="10k"`) || !strings.Contains(err.Error(), "whole number") {
		t.Fatalf("err = %v", err)
	}
	// A flag is exactly as strict.
	if _, err := parseEnv(nil, "-max-batch", "1e3"); err == nil {
		t.Fatal("-max-batch 1e3 accepted")
	}
}

func TestConfigWarnsAboutOptionsOfAnotherStore(t *testing.T) {
	c, err := parseEnv(map[string]string{"AGGREGATOR_STORE": "memory", "AGGREGATOR_POSTGRES_DSN": "postgres://a:b@h/db"}, "-data-dir", "/x")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.warnings, "\n")
	if len(c.warnings) != 2 || !strings.Contains(got, "-postgres-dsn") || !strings.Contains(got, "-data-dir") {
		t.Fatalf("warnings = %q", c.warnings)
	}
	if c, _ := parseEnv(nil, "-data-dir", "/x"); len(c.warnings) != 0 {
		t.Fatalf("sqlite with -data-dir warned: %q", c.warnings)
	}
}

func TestLoggedConfigurationRedactsSecrets(t *testing.T) {
	for dsn, secret := range map[string]string{
		"postgres://agg:s3cret@db:5432/agg":                "s3cret",
		"postgres://agg@db/agg?password=s3cret&sslmode=no": "s3cret",
		"host=db user=agg password=s3cret dbname=agg":      "s3cret",
	} {
		c, err := parseEnv(map[string]string{"AGGREGATOR_STORE": "postgres", "AGGREGATOR_POSTGRES_DSN": dsn})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		newLogger(c, &b).Info("configuration", c.logAttrs()...)
		if strings.Contains(b.String(), secret) || !strings.Contains(b.String(), "db") {
			t.Errorf("logged %q for %q", b.String(), dsn)
		}
	}
}

// Every flag of the server shows in the logged configuration, so a setting
// added later is logged without anyone remembering to.
func TestLoggedConfigurationListsEverySetting(t *testing.T) {
	c, err := parseEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	newLogger(c, &b).Info("configuration", c.logAttrs()...)
	fs := newFlagSet("serve", "", "", io.Discard)
	var dummy config
	serverFlags(fs, &dummy)
	storeFlags(fs, &dummy)
	fs.VisitAll(func(f *flag.Flag) {
		key := strings.ReplaceAll(f.Name, "-", "_") + "="
		if _, other := storeOptions[f.Name]; other && storeOptions[f.Name] != "sqlite" {
			if strings.Contains(b.String(), key) {
				t.Errorf("logged %s, an option of another store", key)
			}
			return
		}
		if !strings.Contains(b.String(), " "+key) {
			t.Errorf("the configuration line lacks %s: %s", key, b.String())
		}
	})
}
