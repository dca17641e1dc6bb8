package dev.retain.http;

import dev.retain.config.RetainConfig;

/**
 * What one listener allows.
 *
 * @param workers routes that run at once (a model's forward pass, a scrape); reading and writing
 *     connections needs no thread
 * @param queue requests that may wait for a worker beyond those; more get 503
 * @param maxConnections open connections; more wait in the accept queue
 * @param idleTimeoutMs a connection that sends or takes nothing for this long is closed
 * @param requestTimeoutMs a request's body must arrive, and a worker must take it, within this
 * @param maxBodyBytes largest request body; larger ones get 413 before any route runs
 */
public record Limits(
    int workers,
    int queue,
    int maxConnections,
    long idleTimeoutMs,
    long requestTimeoutMs,
    int maxBodyBytes) {

  /** The configured limits with {@code workers} threads and bodies up to {@code maxBodyBytes}. */
  public static Limits of(RetainConfig config, int workers, int maxBodyBytes) {
    return new Limits(
        workers,
        config.getInt(RetainConfig.HTTP_QUEUE),
        config.getInt(RetainConfig.HTTP_MAX_CONNECTIONS),
        config.getLong(RetainConfig.HTTP_IDLE_TIMEOUT_MS),
        config.getLong(RetainConfig.HTTP_REQUEST_TIMEOUT_MS),
        maxBodyBytes);
  }
}
