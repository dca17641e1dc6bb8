package dev.retain.bench;

import dev.retain.config.RetainConfig;
import dev.retain.drift.InputDrift;
import dev.retain.drift.InputSummary;
import dev.retain.record.Example;
import dev.retain.serve.ServingModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** The streams of {@code bench drift} and the serving detector's measurements on them. */
final class DriftStreams {
  private DriftStreams() {}

  /**
   * A stream with its truth: each example's true regime, where each drift starts (its first example
   * of the new regime), how long after a start a detection still belongs to that drift, and the
   * test images of each true regime.
   */
  record Built(
      String shift,
      List<Example> examples,
      int[] truth,
      int[] starts,
      int window,
      List<List<Example>> test,
      Map<String, Integer> indexOf) {

    /** The drift that {@code index} falls in (0: before the first), by the latest start. */
    int driftAt(int index) {
      int k = 0;
      for (int s = 1; s < starts.length; s++) {
        k = index >= starts[s] ? s : k;
      }
      return k;
    }
  }

  /** The data a shift needs: twice the examples per regime for gradual and recurring ones. */
  static Scenario data(ScenarioOptions options, String shift) {
    if (!List.of("abrupt", "gradual", "recurring").contains(shift)) {
      throw new IllegalArgumentException("shifts: abrupt, gradual, recurring, stationary");
    }
    int domains = shift.equals("recurring") ? 2 : options.domains;
    int perDomain = options.perDomain * (shift.equals("abrupt") ? 1 : 2);
    return Scenario.load(options.scenario, domains, perDomain, options.evalSize, options.generated);
  }

  static Built build(Scenario data, String shift, int perDomain, int mix, int seed) {
    List<Example> out = new ArrayList<>();
    List<Integer> truth = new ArrayList<>();
    int[] next = new int[data.train().size()];
    int segments = shift.equals("recurring") ? 3 : data.train().size();
    SplittableRandom mixing = new SplittableRandom(seed);
    for (int i = 0; i < segments * perDomain; i++) {
      int d = domainAt(shift, i, perDomain, mix, segments, mixing);
      out.add(data.train().get(d).get(next[d]++));
      truth.add(d);
    }
    int window = 2000 + (shift.equals("gradual") ? mix : 0);
    return built(shift, out, truth, starts(shift, truth, segments, perDomain), window, data.test());
  }

  /** Where each drift starts: its segment's first example, for a gradual one its first sighting. */
  private static int[] starts(String shift, List<Integer> truth, int segments, int perDomain) {
    int[] starts = new int[segments];
    for (int k = 1; k < segments; k++) {
      starts[k] = shift.equals("gradual") ? truth.indexOf(k) : k * perDomain;
    }
    return starts;
  }

  /** The true regime of example {@code i}. */
  private static int domainAt(
      String shift, int i, int perDomain, int mix, int segments, SplittableRandom mixing) {
    int segment = i / perDomain;
    return switch (shift) {
      case "recurring" -> segment % 2;
      case "gradual" -> {
        long intoNext = i % perDomain - (perDomain - (long) mix);
        boolean next = segment + 1 < segments && intoNext > 0 && mixing.nextLong(mix) < intoNext;
        yield next ? segment + 1 : segment;
      }
      default -> segment;
    };
  }

  /**
   * {@code n} examples of one regime: its images drawn at random (again, under new ids, past its
   * size), so that no stretch of the stream differs from another.
   */
  static Built stationary(Scenario data, int n, int seed) {
    List<Example> pool = data.train().get(0);
    List<Example> out = new ArrayList<>(n);
    List<Integer> truth = new ArrayList<>(n);
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) {
      Example e = pool.get(random.nextInt(pool.size()));
      out.add(new Example("st-" + i, e.features(), e.label(), e.domain(), e.ts()));
      truth.add(0);
    }
    return built("stationary", out, truth, new int[] {0}, 0, List.of(data.test().get(0)));
  }

  private static Built built(
      String shift,
      List<Example> out,
      List<Integer> truth,
      int[] starts,
      int window,
      List<List<Example>> test) {
    Map<String, Integer> indexOf = new HashMap<>();
    for (int i = 0; i < out.size(); i++) {
      indexOf.put(out.get(i).id(), i);
    }
    return new Built(
        shift, out, truth.stream().mapToInt(t -> t).toArray(), starts, window, test, indexOf);
  }

  /** Serving's input detector, with its settings: a fresh one, as a new version starts one. */
  private static InputDrift servingDetector(RetainConfig config) {
    return InputDrift.configured(config, 1 + InputSummary.of(config).dims());
  }

  /** What serving's monitor summarises: the confidence, then the projections. */
  private static double[][] summaries(RetainConfig config, ServingModel model, List<Example> in) {
    InputSummary summary = InputSummary.of(config);
    float[][] p = model.probabilities(in.stream().map(Example::features).toList());
    double[][] out = new double[in.size()][1 + summary.dims()];
    for (int i = 0; i < in.size(); i++) {
      out[i][0] = top(p[i]);
      summary.summarise(in.get(i).features(), out[i], 1);
    }
    return out;
  }

  private static float top(float[] probabilities) {
    float top = 0;
    for (float v : probabilities) {
      top = Math.max(top, v);
    }
    return top;
  }

  /**
   * Per drift, the inputs serving's monitor sees before its detection fires, in steady state: the
   * served champion answers enough of the old regime's last inputs to fill the reference and the
   * recent window, then the new regime's (-1: not within twice the reference window).
   */
  static List<Integer> servingDelays(DriftBench.Run run, Built stream) {
    List<Integer> out = new ArrayList<>();
    int reference = run.config().getInt(RetainConfig.DRIFT_INPUT_REFERENCE);
    int window = run.config().getInt(RetainConfig.DRIFT_INPUT_WINDOW);
    for (int k = 1; k < stream.starts().length; k++) {
      int start = stream.starts()[k];
      int from = Math.max(0, start - reference - window);
      int to = Math.min(stream.examples().size(), start + 2 * reference);
      double[][] s = summaries(run.config(), run.model(), stream.examples().subList(from, to));
      out.add(delay(servingDetector(run.config()), s, start - from));
    }
    return out;
  }

  /** Inputs from {@code change} (an index into {@code s}) until {@code detector} fires, or -1. */
  private static int delay(InputDrift detector, double[][] s, int change) {
    for (int i = 0; i < s.length; i++) {
      if (detector.add(s[i]) && i >= change) {
        return i - change + 1;
      }
    }
    return -1;
  }

  /** Serving's false alarms on {@code n} inputs drawn from the stationary regime's images. */
  static int servingAlarms(DriftBench.Run run, Scenario data, int n, int seed) {
    List<Example> pool = data.train().get(0);
    SplittableRandom random = new SplittableRandom(seed);
    InputDrift detector = servingDetector(run.config());
    int alarms = 0;
    for (int done = 0; done < n; done += 10_000) {
      List<Example> chunk = new ArrayList<>();
      for (int i = 0; i < Math.min(10_000, n - done); i++) {
        chunk.add(pool.get(random.nextInt(pool.size())));
      }
      for (double[] s : summaries(run.config(), run.model(), chunk)) {
        alarms += detector.add(s) ? 1 : 0;
      }
    }
    return alarms;
  }
}
