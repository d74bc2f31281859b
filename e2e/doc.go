// Package e2e holds multi-process tests that build and run the real
// binaries (schedulezero, szcluster) on loopback addresses. Every process a
// test starts is stopped by PID in the test's cleanup.
package e2e
