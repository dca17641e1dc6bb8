/**
 * The learner: steps on new examples joined with replayed ones, cross-entropy plus the EWC penalty,
 * online diagonal Fisher consolidation, Adam, and base pretraining. Only this package mutates model
 * parameters.
 */
package dev.retain.train;
