/**
 * Change detectors over a stream of numbers (the learner's prequential error): ADWIN and
 * Page-Hinkley, written from their papers.
 */
package dev.retain.drift;
