/**
 * Benchmarks behind {@code retain bench}: each prints a table and, with --json, one JSON object.
 */
package dev.retain.bench;
