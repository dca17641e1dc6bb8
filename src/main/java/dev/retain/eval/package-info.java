/**
 * Evaluation: the accuracy matrix per domain, retained accuracy, forgetting and backward transfer,
 * read by metrics and publishing through {@link dev.retain.eval.RetentionReport}.
 */
package dev.retain.eval;
