/**
 * The HTTP listeners of both processes (serving, {@code /metrics}, health, the admin API), on
 * Jetty: idle and slow clients hold no thread, connections are bounded and every request has a
 * deadline. Handlers see a {@link dev.retain.http.Call}, never Jetty's types.
 */
package dev.retain.http;
