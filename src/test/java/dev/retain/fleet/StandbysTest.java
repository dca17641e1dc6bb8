package dev.retain.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Every member computes the same standby plan from the group's assignment. */
class StandbysTest {
  private static final Map<String, Set<Integer>> OWNERS =
      Map.of("a", Set.of(0, 1), "b", Set.of(2, 3), "c", Set.of(4, 5));

  @Test
  void shouldKeepTheNextMembersPartitionsWarmAndNeverItsOwn() {
    assertThat(Standbys.planned(OWNERS, "b", 1)).containsExactly(0, 1);
    assertThat(Standbys.planned(OWNERS, "c", 1)).containsExactly(2, 3);
    assertThat(Standbys.planned(OWNERS, "a", 1)).containsExactly(4, 5);
    assertThat(Standbys.planned(OWNERS, "a", 2)).containsExactly(2, 3, 4, 5);
    assertThat(Standbys.planned(OWNERS, "a", 3)).containsExactly(2, 3, 4, 5); // at most n - 1
  }

  @Test
  void shouldPlanNothingAloneOrOutsideTheGroup() {
    assertThat(Standbys.planned(Map.of("a", Set.of(0, 1)), "a", 1)).isEmpty();
    assertThat(Standbys.planned(OWNERS, "d", 1)).isEmpty();
    assertThat(Standbys.planned(OWNERS, "b", 0)).isEmpty();
  }
}
