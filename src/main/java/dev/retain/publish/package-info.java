/**
 * Adapter versions: the promotion gate on retained accuracy, PEFT-compatible adapter archives with
 * provenance, the version registry in the store, publication on the adapters topic, and rollback.
 * Only this package writes the adapters and bases topics.
 */
package dev.retain.publish;
