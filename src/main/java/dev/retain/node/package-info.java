/**
 * One running learner process: ingest, the training loop, the publishing gate and the metrics
 * endpoint over one store, started and closed in a fixed order.
 */
package dev.retain.node;
