package dev.retain.train;

/**
 * A drift the learner detected: the detector ({@code adwin}, {@code page-hinkley}, {@code
 * input-ks}), the example at which it fired and that example's domain, and the regime the detection
 * opened (null when it opened none: the stream has domains, or the slower detector of one drift).
 */
public record DriftDetection(String source, String exampleId, String domain, String opened) {}
