package dev.retain.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.record.BinaryExampleCodec;
import dev.retain.record.Example;
import dev.retain.record.JsonExampleCodec;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** The drift scenarios `retain produce` streams, and records without a domain. */
class ProduceCommandTest {
  private static ProduceCommand produce(String shift, int domains, int perDomain, int mix) {
    ProduceCommand command = new ProduceCommand();
    command.shift = shift;
    command.domains = domains;
    command.perDomain = perDomain;
    command.mix = mix;
    return command;
  }

  @Test
  void shouldOrderTheDomainsOfEachScenario() {
    SplittableRandom random = new SplittableRandom(1);
    ProduceCommand abrupt = produce("abrupt", 3, 10, 0);
    assertThat(LongStream.range(0, 30).map(i -> abrupt.domainOf(i, random)).distinct().toArray())
        .containsExactly(0, 1, 2);
    ProduceCommand recurring = produce("recurring", 3, 10, 0);
    assertThat(recurring.domainOf(5, random)).isZero();
    assertThat(recurring.domainOf(15, random)).isEqualTo(1);
    assertThat(recurring.domainOf(25, random)).as("regime A again").isZero();
  }

  @Test
  void shouldMixTwoDomainsOverAGradualChange() {
    ProduceCommand gradual = produce("gradual", 2, 10_000, 5_000);
    SplittableRandom random = new SplittableRandom(1);
    long early = LongStream.range(0, 5_000).filter(i -> gradual.domainOf(i, random) == 1).count();
    long late =
        LongStream.range(9_000, 10_000).filter(i -> gradual.domainOf(i, random) == 1).count();
    long after =
        LongStream.range(10_000, 20_000).filter(i -> gradual.domainOf(i, random) == 0).count();
    assertThat(early).as("before the mix").isZero();
    assertThat(late).as("at the end of the mix, mostly the next domain").isGreaterThan(800);
    assertThat(after).as("the last domain has no next one").isZero();
  }

  @Test
  void shouldEncodeARecordWithoutADomainInEitherCodec() throws Exception {
    Example e = new Example("x", new float[] {1f, 2f}, 1, "week-48", 7L);
    byte[] json = new JsonExampleCodec().encode(e, false);
    assertThat(new String(json, StandardCharsets.UTF_8)).doesNotContain("domain");
    assertThat(new JsonExampleCodec().decode(json, "regime-3").domain()).isEqualTo("regime-3");
    byte[] binary = new BinaryExampleCodec().encode(e, false);
    assertThat(new BinaryExampleCodec().decode(binary, "regime-3").domain()).isEqualTo("regime-3");
    assertThat(new BinaryExampleCodec().decode(binary, "regime-3").features())
        .containsExactly(1f, 2f);
  }
}
