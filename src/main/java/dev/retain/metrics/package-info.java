/**
 * The Micrometer registry with Prometheus output and the JVM binders; {@link
 * dev.retain.http.HttpServer#metrics} serves it as {@code /metrics}.
 */
package dev.retain.metrics;
