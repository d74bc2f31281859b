package client

import "time"

// SetBackoff shortens the retry back-off for tests.
func SetBackoff(c *Client, d time.Duration) { c.backoff = d }
