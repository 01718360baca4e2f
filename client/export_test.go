package client

import (
	"context"
	"time"
)

// WithSleep replaces the wait between attempts, so that tests can see the
// waits without spending them.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = f }
}

var ParseRetryAfter = parseRetryAfter

func (c *Client) Backoff(attempt int) time.Duration { return c.backoff(attempt) }
