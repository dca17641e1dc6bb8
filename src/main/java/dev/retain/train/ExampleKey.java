package dev.retain.train;

import dev.retain.record.Example;

/** An example as a map key by identity: hashing its features would cost more than it saves. */
record ExampleKey(Example example) {
  @Override
  public boolean equals(Object other) {
    return other instanceof ExampleKey k && k.example == example;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(example);
  }
}
