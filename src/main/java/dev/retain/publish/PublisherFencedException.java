package dev.retain.publish;

/**
 * Another learner took over publishing this model (its transactional producer fenced this one):
 * nothing more is published from here, and the learner stops.
 */
public final class PublisherFencedException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public PublisherFencedException(String message) {
    super(message);
  }
}
