package dev.retain.record;

/** A record that cannot become an {@link Example}; carries the reason it is rejected. */
public final class InvalidExampleException extends Exception {
  private static final long serialVersionUID = 1L;
  private final RejectReason reason;

  public InvalidExampleException(RejectReason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public RejectReason reason() {
    return reason;
  }
}
