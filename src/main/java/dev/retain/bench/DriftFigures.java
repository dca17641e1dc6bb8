package dev.retain.bench;

import dev.retain.train.DriftDetection;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** One stream's figures in {@code bench drift}, gathered over seeds, and its rows of the table. */
final class DriftFigures {
  private static final int BLOCK = 100;
  private static final int PLATEAU = 1000;

  private final String shift;
  private final Report report;
  private final Map<Integer, List<Double>> errorDelays = new TreeMap<>();
  private final Map<Integer, List<Double>> inputDelays = new TreeMap<>();
  private final Map<Integer, List<Double>> servingDelays = new TreeMap<>();
  private final Map<Integer, List<Double>> recovery = new TreeMap<>();
  private final List<Double> unlabeled = new ArrayList<>();
  private final List<Double> labeled = new ArrayList<>();
  private final List<Double> regimes = new ArrayList<>();
  private final List<Double> falseAlarms = new ArrayList<>();
  private final List<Double> servingFalseAlarms = new ArrayList<>();
  private int drifts;

  DriftFigures(String shift, Report report) {
    this.shift = shift;
    this.report = report;
  }

  /** One seed's runs of a drifting stream, with and without labels. */
  void add(
      DriftStreams.Built stream,
      DriftBench.Run run,
      DriftBench.Run withLabels,
      List<Integer> serving) {
    drifts = stream.starts().length - 1;
    Set<String> firsts = new HashSet<>();
    int alarms = 0;
    for (DriftDetection d : run.detections()) {
      int index = stream.indexOf().get(d.exampleId());
      int k = stream.driftAt(index);
      int delay = index - stream.starts()[k] + 1;
      if (k == 0 || delay > stream.window()) {
        alarms++;
      } else if (firsts.add(d.source() + k)) {
        (d.source().equals("input-ks") ? inputDelays : errorDelays)
            .computeIfAbsent(k, x -> new ArrayList<>())
            .add((double) delay);
      } else if (d.opened() != null) {
        alarms++; // a second regime opened for one drift
      }
    }
    for (int k = 1; k <= drifts; k++) {
      if (serving.get(k - 1) > 0) {
        servingDelays.computeIfAbsent(k, x -> new ArrayList<>()).add((double) serving.get(k - 1));
      }
      int examples = toPlateau(stream, run, k);
      if (examples > 0) {
        recovery.computeIfAbsent(k, x -> new ArrayList<>()).add((double) examples);
      }
    }
    unlabeled.add(run.average() * 100);
    labeled.add(withLabels.average() * 100);
    regimes.add((double) run.regimes());
    falseAlarms.add((double) alarms);
  }

  /** A seed's run of the stationary stream: every detection is a false alarm. */
  void stationary(DriftStreams.Built stream, DriftBench.Run run, int serving) {
    for (DriftDetection d : run.detections()) {
      (d.source().equals("input-ks") ? inputDelays : errorDelays)
          .computeIfAbsent(0, x -> new ArrayList<>())
          .add(1.0);
    }
    falseAlarms.add((double) run.detections().size());
    servingFalseAlarms.add((double) serving);
    unlabeled.add(run.average() * 100);
  }

  /**
   * Examples from drift {@code k}'s start until the learner's prequential accuracy on the new
   * regime, in blocks of {@value #BLOCK} of its examples, first reaches 90% of its plateau (its
   * accuracy on its last {@value #PLATEAU}); -1 when it never is measured.
   */
  private static int toPlateau(DriftStreams.Built stream, DriftBench.Run run, int k) {
    int start = stream.starts()[k];
    int end = k + 1 < stream.starts().length ? stream.starts()[k + 1] : stream.truth().length;
    int regime = stream.truth()[start];
    List<Integer> index = new ArrayList<>();
    List<Boolean> right = new ArrayList<>();
    for (int i = start; i < end; i++) {
      Boolean r = run.prequential().get(stream.examples().get(i).id());
      if (stream.truth()[i] == regime && r != null) {
        index.add(i);
        right.add(r);
      }
    }
    if (right.size() < PLATEAU + BLOCK) {
      return -1;
    }
    double plateau = share(right.subList(right.size() - PLATEAU, right.size()));
    for (int b = BLOCK; b <= right.size(); b += BLOCK) {
      if (share(right.subList(b - BLOCK, b)) >= 0.9 * plateau) {
        return index.get(b - 1) - start + 1;
      }
    }
    return -1;
  }

  private static double share(List<Boolean> values) {
    return values.stream().filter(v -> v).count() / (double) values.size();
  }

  private static double mean(List<Double> values) {
    return values.stream().mapToDouble(v -> v).average().orElse(Double.NaN);
  }

  private static double max(List<Double> values) {
    return values.stream().mapToDouble(v -> v).max().orElse(Double.NaN);
  }

  /** A delay cell: the mean over seeds, and how many seeds missed the drift. */
  private String cell(Map<Integer, List<Double>> delays, int k, int seeds) {
    List<Double> found = delays.getOrDefault(k, List.of());
    if (found.isEmpty()) {
      return "missed";
    }
    String mean = String.format(Locale.ROOT, "%.0f", mean(found));
    return found.size() < seeds ? mean + " (missed " + (seeds - found.size()) + ")" : mean;
  }

  void addRows() {
    int seeds = unlabeled.size();
    if (shift.equals("stationary")) {
      int error = errorDelays.getOrDefault(0, List.of()).size();
      int input = inputDelays.getOrDefault(0, List.of()).size();
      report.row(
          "stationary",
          "none",
          "",
          "",
          "",
          "",
          fmt(mean(unlabeled)),
          "",
          "",
          String.format(
              Locale.ROOT,
              "error %d, input %d, serving %.0f",
              error,
              input,
              servingFalseAlarms.stream().mapToDouble(v -> v).sum()));
      report
          .figure("stationary_false_alarms_error", error)
          .figure("stationary_false_alarms_input", input)
          .figure(
              "stationary_false_alarms_serving",
              servingFalseAlarms.stream().mapToDouble(v -> v).sum());
      return;
    }
    for (int k = 1; k <= drifts; k++) {
      report.row(
          shift,
          "drift " + k,
          cell(errorDelays, k, seeds),
          cell(inputDelays, k, seeds),
          cell(servingDelays, k, seeds),
          cell(recovery, k, seeds),
          "",
          "",
          "",
          "");
    }
    double gap = mean(labeled) - mean(unlabeled);
    report.row(
        shift,
        "all",
        "",
        "",
        "",
        "",
        fmt(mean(unlabeled)),
        fmt(mean(labeled)),
        fmt(mean(regimes)),
        fmt(mean(falseAlarms)));
    report
        .figure(shift + "_served_unlabeled", Stats.round(mean(unlabeled)))
        .figure(shift + "_served_labeled", Stats.round(mean(labeled)))
        .figure(shift + "_labeled_minus_unlabeled", Stats.round(gap))
        .figure(shift + "_regimes_found", Stats.round(mean(regimes)))
        .figure(shift + "_false_alarms", Stats.round(mean(falseAlarms)))
        .figure(shift + "_error_delay_max", Stats.round(maxOver(errorDelays)))
        .figure(shift + "_input_delay_max", Stats.round(maxOver(inputDelays)))
        .figure(shift + "_serving_delay_max", Stats.round(maxOver(servingDelays)))
        .figure(shift + "_to_plateau_max", Stats.round(maxOver(recovery)))
        .figure(shift + "_drifts_missed_by_error", missed(errorDelays, seeds))
        .figure(shift + "_drifts_missed_by_input", missed(inputDelays, seeds));
  }

  private double maxOver(Map<Integer, List<Double>> values) {
    return values.values().stream().mapToDouble(DriftFigures::max).max().orElse(Double.NaN);
  }

  private int missed(Map<Integer, List<Double>> delays, int seeds) {
    int missed = 0;
    for (int k = 1; k <= drifts; k++) {
      missed += seeds - delays.getOrDefault(k, List.of()).size();
    }
    return missed;
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.1f", v);
  }
}
