/**
 * The Micrometer registry with Prometheus output, the JVM binders, and the HTTP {@code /metrics}
 * endpoint every Retain process exposes.
 */
package dev.retain.metrics;
