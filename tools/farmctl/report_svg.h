// Inline SVG plots for farmctl report: line plots with interval bars over a numeric x,
// bar charts with interval bars, box-and-strip plots. Each returns one <svg> element with
// axes, tick labels, axis titles and a legend, sized by viewBox so it scales with the page.
// A plot without data returns an SVG of the same size that says so, never an empty box.
// Pure string building; no I/O.
#pragma once

#include <string>
#include <vector>

namespace farmctl::report {

struct PlotFrame {
  std::string id;       // data-plot attribute (tests and the browser check find plots by it)
  std::string title;    // shown above the plot
  std::string x_label;
  std::string y_label;
  std::string no_data;  // the sentence shown when there is nothing to draw
  int width = 560;
  int height = 320;
};

// One mean with its interval (NaN ends: no interval drawn) and its count.
struct PlotPoint {
  double x = 0;
  double y = 0;
  double low = 0;
  double high = 0;
  long n = 0;
};

struct LineSeries {
  std::string name;
  std::vector<PlotPoint> points;  // ascending x
};
std::string LinePlot(const PlotFrame& frame, const std::vector<LineSeries>& series);

struct Bar {
  std::string label;
  double value = 0;
  double low = 0;
  double high = 0;
  std::string note;  // under the label, e.g. "7/10"
};
// Bars on a fixed [0, 1] axis when `unit_interval`, else from 0 to the largest end.
std::string BarPlot(const PlotFrame& frame, const std::vector<Bar>& bars, bool unit_interval);

struct BoxGroup {
  std::string label;
  std::vector<double> values;  // any order
};
// Quartile box, whiskers to the furthest value within 1.5 IQR, and every value as a dot.
std::string BoxPlot(const PlotFrame& frame, const std::vector<BoxGroup>& groups);

// The "no data" SVG of a frame.
std::string NoDataPlot(const PlotFrame& frame);

// "Nice" tick positions (1, 2, 5 × 10^k steps) covering [low, high], about `count` of them.
std::vector<double> NiceTicks(double low, double high, int count);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string HtmlEscape(const std::string& text);

// Shortest readable number: up to `digits` significant digits, no trailing zeros.
std::string FormatNumber(double value, int digits = 4);

}  // namespace farmctl::report
