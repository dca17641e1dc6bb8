package dev.retain.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FingerprintSetTest {
  /**
   * Random adds and removes of members that crowd a few home slots (long probe runs that wrap
   * around the table's end) against a {@code HashSet}: every member stays findable after the
   * backward shifts, and growing keeps them all.
   */
  @Test
  void shouldAgreeWithAHashSetWhenProbeRunsWrapAndShift() {
    FingerprintSet set = new FingerprintSet(16);
    Set<List<Long>> reference = new HashSet<>();
    SplittableRandom random = new SplittableRandom(7);
    List<List<Long>> members = new ArrayList<>();
    for (int step = 0; step < 200_000; step++) {
      long high = random.nextInt(4) - 2L; // homes at both ends of the table
      long low = 1 + random.nextInt(300);
      List<Long> member = List.of(high, low);
      if (random.nextInt(3) > 0) {
        assertThat(set.add(high, low)).isEqualTo(reference.add(member));
        members.add(member);
      } else if (!members.isEmpty()) {
        List<Long> gone = members.get(random.nextInt(members.size()));
        assertThat(set.remove(gone.get(0), gone.get(1))).isEqualTo(reference.remove(gone));
      }
      assertThat(set.size()).isEqualTo(reference.size());
    }
    for (List<Long> member : reference) {
      assertThat(set.add(member.get(0), member.get(1))).as("%s still there", member).isFalse();
    }
  }

  private static boolean add(FingerprintSet set, String s) {
    long[] print = new long[2];
    FingerprintSet.fingerprint(s, print, 0);
    return set.add(print[0], print[1]);
  }

  @Test
  void shouldTellDistinctStringsApartAndRecogniseEqualOnes() {
    FingerprintSet set = new FingerprintSet(1000);
    int n = 300_000;
    for (int i = 0; i < n; i++) {
      assertThat(add(set, "ex-" + i)).as("ex-" + i).isTrue();
    }
    // lengths around the 8-char block, the empty string and non-ASCII ones
    for (String s :
        List.of("", "a", "abcdefg", "abcdefgh", "abcdefghi", "caf\u00e9", "\ud83d\ude00")) {
      assertThat(add(set, s)).as(s).isTrue();
    }
    assertThat(set.size()).isEqualTo(n + 7);
    assertThat(add(set, new String("ex-" + (n - 1)))).isFalse(); // equal, not the same object
    assertThat(add(set, "abcdefgh")).isFalse();
    assertThat(add(set, "\ud83d\ude00")).isFalse();
  }
}
