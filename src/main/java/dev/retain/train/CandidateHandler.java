package dev.retain.train;

import dev.retain.model.SafeTensors;
import java.util.Map;

/** Receives each consolidated adapter (the publishing stage's gate). */
public interface CandidateHandler {
  /**
   * Called on the training thread after each consolidation.
   *
   * @return the adapter training should continue from instead of the candidate (the champion's,
   *     when a rejected candidate must not be built on), or null to continue from the candidate
   */
  Map<String, SafeTensors.Tensor> offer(Candidate candidate);

  /** The champion's adapter to compare candidates with, or null (compare with the base alone). */
  default Map<String, SafeTensors.Tensor> champion() {
    return null;
  }

  /** Called once the frozen base is ready, with its hash and safetensors encoding. */
  default void base(String hash, byte[] safetensors) {}

  /** Publishes nothing; training continues from every candidate. */
  CandidateHandler NONE = candidate -> null;
}
