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
    falseAlarms.add((double) delays(stream, run));
    for (int k = 1; k <= drifts; k++) {
      putFound(servingDelays, k, serving.get(k - 1));
      putFound(recovery, k, toPlateau(stream, run, k));
    }
    unlabeled.add(run.average() * 100);
    labeled.add(withLabels.average() * 100);
    regimes.add((double) run.regimes());
  }

  /**
   * Files each detector's first detection of each drift as its delay; returns the false alarms:
   * detections before the first drift or later than the stream's window after one, and a second
   * regime opened for one drift.
   */
  private int delays(DriftStreams.Built stream, DriftBench.Run run) {
    Set<String> firsts = new HashSet<>();
    int alarms = 0;
    for (DriftDetection d : run.detections()) {
      int index = stream.indexOf().get(d.exampleId());
      int k = stream.driftAt(index);
      int delay = index - stream.starts()[k] + 1;
      if (k == 0 || delay > stream.window()) {
        alarms++;
      } else if (firsts.add(d.source() + k)) {
        put(d.source().equals("input-ks") ? inputDelays : errorDelays, k, delay);
      } else if (d.opened() != null) {
        alarms++;
      }
    }
    return alarms;
  }

  /** Files {@code value} unless it is -1 (not found). */
  private static void putFound(Map<Integer, List<Double>> values, int k, int value) {
    if (value > 0) {
      put(values, k, value);
    }
  }

  private static void put(Map<Integer, List<Double>> values, int k, double value) {
    values.computeIfAbsent(k, x -> new ArrayList<>()).add(value);
  }

  /** A seed's run of the stationary stream: every detection is a false alarm. */
  void stationary(DriftStreams.Built stream, DriftBench.Run run, int serving) {
    for (DriftDetection d : run.detections()) {
      put(d.source().equals("input-ks") ? inputDelays : errorDelays, 0, 1.0);
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
    List<Integer> index = new ArrayList<>();
    List<Boolean> right = new ArrayList<>();
    outcomes(stream, run, k, index, right);
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

  /** The learner's outcomes on drift {@code k}'s regime until the next drift, and their indices. */
  private static void outcomes(
      DriftStreams.Built stream,
      DriftBench.Run run,
      int k,
      List<Integer> index,
      List<Boolean> right) {
    int start = stream.starts()[k];
    int end = k + 1 < stream.starts().length ? stream.starts()[k + 1] : stream.truth().length;
    for (int i = start; i < end; i++) {
      Boolean r = run.prequential().get(stream.examples().get(i).id());
      if (stream.truth()[i] == stream.truth()[start] && r != null) {
        index.add(i);
        right.add(r);
      }
    }
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
    if (shift.equals("stationary")) {
      stationaryRow();
      return;
    }
    int seeds = unlabeled.size();
    for (int k = 1; k <= drifts; k++) {
      row(
          "drift " + k,
          cell(errorDelays, k, seeds),
          cell(inputDelays, k, seeds),
          cell(servingDelays, k, seeds),
          cell(recovery, k, seeds));
    }
    String[] all = {fmt(mean(unlabeled)), fmt(mean(labeled)), fmt(mean(regimes))};
    row("all", "", "", "", "", all[0], all[1], all[2], fmt(mean(falseAlarms)));
    figures(seeds);
  }

  /** A row of this stream: its cells after the stream's name, the rest left empty. */
  private void row(String... cells) {
    Object[] row = new Object[10];
    java.util.Arrays.fill(row, "");
    row[0] = shift;
    System.arraycopy(cells, 0, row, 1, cells.length);
    report.row(row);
  }

  private void figures(int seeds) {
    report
        .figure(shift + "_served_unlabeled", Stats.round(mean(unlabeled)))
        .figure(shift + "_served_labeled", Stats.round(mean(labeled)))
        .figure(shift + "_labeled_minus_unlabeled", Stats.round(mean(labeled) - mean(unlabeled)))
        .figure(shift + "_regimes_found", Stats.round(mean(regimes)))
        .figure(shift + "_false_alarms", Stats.round(mean(falseAlarms)))
        .figure(shift + "_error_delay_max", Stats.round(maxOver(errorDelays)))
        .figure(shift + "_input_delay_max", Stats.round(maxOver(inputDelays)))
        .figure(shift + "_serving_delay_max", Stats.round(maxOver(servingDelays)))
        .figure(shift + "_to_plateau_max", Stats.round(maxOver(recovery)))
        .figure(shift + "_drifts_missed_by_error", missed(errorDelays, seeds))
        .figure(shift + "_drifts_missed_by_input", missed(inputDelays, seeds));
  }

  private void stationaryRow() {
    int error = errorDelays.getOrDefault(0, List.of()).size();
    int input = inputDelays.getOrDefault(0, List.of()).size();
    double serving = servingFalseAlarms.stream().mapToDouble(v -> v).sum();
    String alarms =
        String.format(Locale.ROOT, "error %d, input %d, serving %.0f", error, input, serving);
    row("none", "", "", "", "", fmt(mean(unlabeled)), "", "", alarms);
    report
        .figure("stationary_false_alarms_error", error)
        .figure("stationary_false_alarms_input", input)
        .figure("stationary_false_alarms_serving", serving);
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
