/**
 * The ingest stage: the consumer loop, dead-letter routing, holdout split, positions committed in
 * the same store batch as the data, and backpressure from the learner's inbox.
 */
package dev.retain.ingest;
