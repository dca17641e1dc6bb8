package dev.retain.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A benchmark's output: a readable table, then (with --json) one JSON object of its figures. */
public final class Report {
  private final String title;
  private final List<String> columns;
  private final List<List<String>> rows = new ArrayList<>();
  private final Map<String, Object> figures = new LinkedHashMap<>();

  public Report(String title, String... columns) {
    this.title = title;
    this.columns = List.of(columns);
  }

  public Report row(Object... cells) {
    List<String> row = new ArrayList<>();
    for (Object cell : cells) {
      row.add(cell instanceof Double d ? String.format("%,.1f", d) : String.valueOf(cell));
    }
    rows.add(row);
    return this;
  }

  /** Adds a figure to the JSON line; a value that is not a number (NaN) is written as null. */
  public Report figure(String name, Object value) {
    figures.put(name, value instanceof Double d && d.isNaN() ? null : value);
    return this;
  }

  private int[] widths() {
    int[] widths = new int[columns.size()];
    for (int i = 0; i < widths.length; i++) {
      widths[i] = columns.get(i).length();
      for (List<String> row : rows) {
        widths[i] = Math.max(widths[i], row.get(i).length());
      }
    }
    return widths;
  }

  public void print(PrintStream out, boolean json) {
    int[] widths = widths();
    out.println(title);
    out.println(line(columns, widths));
    StringBuilder rule = new StringBuilder();
    for (int w : widths) {
      rule.append("-".repeat(w)).append("  ");
    }
    out.println(rule.toString().stripTrailing());
    rows.forEach(row -> out.println(line(row, widths)));
    if (json) {
      out.println(json());
    }
  }

  private String json() {
    try {
      return new ObjectMapper().writeValueAsString(figures);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String line(List<String> cells, int[] widths) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < cells.size(); i++) {
      String cell = cells.get(i);
      out.append(
              i == 0
                  ? String.format("%-" + widths[i] + "s", cell)
                  : String.format("%" + widths[i] + "s", cell))
          .append("  ");
    }
    return out.toString().stripTrailing();
  }
}
