#include "report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace farmctl::report {
namespace {

// Colour-blind-safe palette (Okabe-Ito), in series order.
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                    "#56B4E9", "#D55E00", "#F0E442", "#000000"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

constexpr int kLeft = 58;
constexpr int kTop = 30;
constexpr int kBottom = 52;

bool Finite(double v) { return std::isfinite(v); }

std::string Num(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", v);
  return text;
}

// Maps data to pixels for one plot area.
struct Scale {
  double d0, d1, p0, p1;
  double operator()(double v) const {
    if (d1 == d0) return (p0 + p1) / 2;
    return p0 + (v - d0) / (d1 - d0) * (p1 - p0);
  }
};

struct Range {
  double low = INFINITY;
  double high = -INFINITY;
  void Add(double v) {
    if (!Finite(v)) return;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  bool empty() const { return !(low <= high); }
  // A range with some room, never of zero width.
  Range Padded() const {
    Range r = *this;
    if (r.empty()) return {0, 1};
    double span = r.high - r.low;
    if (span == 0) span = std::max(std::fabs(r.high) * 0.1, 0.05);
    r.low -= span * 0.08;
    r.high += span * 0.08;
    return r;
  }
};

class Svg {
 public:
  explicit Svg(const PlotFrame& frame) : frame_(frame) {
    out_ << "<svg class=\"plot\" data-plot=\""
         << HtmlEscape(frame.id) << "\" viewBox=\"0 0 " << frame.width << ' ' << frame.height
         << "\" width=\"" << frame.width << "\" height=\"" << frame.height << "\" role=\"img\" "
         << "aria-label=\"" << HtmlEscape(frame.title) << "\">";
    out_ << "<rect x=\"0\" y=\"0\" width=\"" << frame.width << "\" height=\"" << frame.height
         << "\" fill=\"#fff\"/>";
    out_ << "<text x=\"" << frame.width / 2 << "\" y=\"18\" text-anchor=\"middle\" "
         << "font-size=\"14\" font-weight=\"600\">" << HtmlEscape(frame.title) << "</text>";
  }
  std::ostringstream& out() { return out_; }
  std::string Finish() {
    out_ << "</svg>";
    return out_.str();
  }

  // Axes: y ticks and grid over [plot_left, plot_right], axis titles.
  void YAxis(const Scale& y, const std::vector<double>& ticks, double left, double right) {
    for (double t : ticks) {
      const double py = y(t);
      out_ << "<line x1=\"" << Num(left) << "\" x2=\"" << Num(right) << "\" y1=\"" << Num(py)
           << "\" y2=\"" << Num(py) << "\" stroke=\"#e5e5e5\"/>";
      out_ << "<text x=\"" << Num(left - 6) << "\" y=\"" << Num(py + 4)
           << "\" text-anchor=\"end\" font-size=\"11\">" << FormatNumber(t, 3) << "</text>";
    }
    out_ << "<line x1=\"" << Num(left) << "\" x2=\"" << Num(left) << "\" y1=\"" << Num(y.p0)
         << "\" y2=\"" << Num(y.p1) << "\" stroke=\"#333\"/>";
    out_ << "<line x1=\"" << Num(left) << "\" x2=\"" << Num(right) << "\" y1=\"" << Num(y.p0)
         << "\" y2=\"" << Num(y.p0) << "\" stroke=\"#333\"/>";
    const double mid = (y.p0 + y.p1) / 2;
    out_ << "<text transform=\"translate(14 " << Num(mid) << ") rotate(-90)\" text-anchor=\"middle\" "
         << "font-size=\"12\">" << HtmlEscape(frame_.y_label) << "</text>";
    out_ << "<text x=\"" << Num((left + right) / 2) << "\" y=\"" << frame_.height - 8
         << "\" text-anchor=\"middle\" font-size=\"12\">" << HtmlEscape(frame_.x_label) << "</text>";
  }

  void XTick(double px, double axis_y, const std::string& label, const std::string& note = "") {
    out_ << "<line x1=\"" << Num(px) << "\" x2=\"" << Num(px) << "\" y1=\"" << Num(axis_y)
         << "\" y2=\"" << Num(axis_y + 4) << "\" stroke=\"#333\"/>";
    out_ << "<text x=\"" << Num(px) << "\" y=\"" << Num(axis_y + 16)
         << "\" text-anchor=\"middle\" font-size=\"11\">" << HtmlEscape(label) << "</text>";
    if (!note.empty()) {
      out_ << "<text x=\"" << Num(px) << "\" y=\"" << Num(axis_y + 28)
           << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#666\">" << HtmlEscape(note)
           << "</text>";
    }
  }

  // A vertical interval bar with caps; nothing when an end is NaN.
  void Interval(double px, const Scale& y, double low, double high, const char* colour) {
    if (!Finite(low) || !Finite(high)) return;
    const double y0 = y(low), y1 = y(high);
    out_ << "<path d=\"M" << Num(px) << ' ' << Num(y0) << "V" << Num(y1) << "M" << Num(px - 4) << ' '
         << Num(y0) << "h8M" << Num(px - 4) << ' ' << Num(y1) << "h8\" stroke=\"" << colour
         << "\" stroke-width=\"1.5\" fill=\"none\"/>";
  }

 private:
  const PlotFrame& frame_;
  std::ostringstream out_;
};

std::string Tooltip(const std::string& text) { return "<title>" + HtmlEscape(text) + "</title>"; }

std::string IntervalText(double low, double high) {
  if (!Finite(low) || !Finite(high)) return "no interval";
  return "95% CI " + FormatNumber(low) + " to " + FormatNumber(high);
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string FormatNumber(double value, int digits) {
  if (!Finite(value)) return "n/a";
  char text[48];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return text;
}

std::vector<double> NiceTicks(double low, double high, int count) {
  std::vector<double> ticks;
  if (!Finite(low) || !Finite(high) || count < 1) return ticks;
  if (high < low) std::swap(low, high);
  if (high == low) return {low};
  const double raw = (high - low) / count;
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double magnitude = std::pow(10.0, exponent);
  double multiple = 1.0;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    multiple = m;
    if (raw <= m * magnitude) break;
  }
  // Tick k is k·multiple·10^exponent; dividing by 10^-exponent keeps 0.6 exactly 0.6
  // (0.2 * 3 would be 0.6000000000000001).
  const auto tick = [&](double k) {
    return exponent < 0 ? k * multiple / std::pow(10.0, -exponent) : k * multiple * magnitude;
  };
  const double step = multiple * magnitude;
  for (double k = std::ceil(low / step - 1e-9); tick(k) <= high + step * 1e-9; k += 1) {
    ticks.push_back(k == 0 ? 0.0 : tick(k));
  }
  return ticks;
}

std::string NoDataPlot(const PlotFrame& frame) {
  Svg svg(frame);
  svg.out() << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << frame.width - kLeft - 16
            << "\" height=\"" << frame.height - kTop - kBottom
            << "\" fill=\"#fafafa\" stroke=\"#ccc\" stroke-dasharray=\"4 3\"/>";
  svg.out() << "<text class=\"no-data\" x=\"" << (frame.width + kLeft - 16) / 2 << "\" y=\""
            << (frame.height + kTop - kBottom) / 2 << "\" text-anchor=\"middle\" font-size=\"13\" "
            << "fill=\"#666\">" << HtmlEscape(frame.no_data.empty() ? "no data" : frame.no_data)
            << "</text>";
  return svg.Finish();
}

std::string LinePlot(const PlotFrame& frame, const std::vector<LineSeries>& series) {
  Range xr, yr;
  for (const LineSeries& s : series) {
    for (const PlotPoint& p : s.points) {
      if (!Finite(p.y)) continue;
      xr.Add(p.x);
      yr.Add(p.y);
      yr.Add(p.low);
      yr.Add(p.high);
    }
  }
  if (xr.empty()) return NoDataPlot(frame);
  const bool legend = series.size() > 1 || !series.front().name.empty();
  const int legend_width = legend ? 130 : 0;
  const double right = frame.width - 16 - legend_width;
  const Range xp = xr.Padded(), yp = yr.Padded();
  const Scale x{xp.low, xp.high, kLeft, right};
  const Scale y{yp.low, yp.high, static_cast<double>(frame.height - kBottom), kTop};
  Svg svg(frame);
  svg.YAxis(y, NiceTicks(yp.low, yp.high, 5), kLeft, right);
  for (double t : NiceTicks(xr.low, xr.high, 6)) svg.XTick(x(t), y.p0, FormatNumber(t, 4));
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* colour = kPalette[i % kPaletteSize];
    const LineSeries& s = series[i];
    std::ostringstream path;
    bool first = true;
    for (const PlotPoint& p : s.points) {
      if (!Finite(p.y)) continue;
      path << (first ? "M" : "L") << Num(x(p.x)) << ' ' << Num(y(p.y));
      first = false;
    }
    svg.out() << "<g class=\"series\" data-series=\"" << HtmlEscape(s.name) << "\">";
    if (!first) {
      svg.out() << "<path d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << colour
                << "\" stroke-width=\"2\"/>";
    }
    for (const PlotPoint& p : s.points) {
      if (!Finite(p.y)) continue;
      // Nudge series apart a little so their intervals do not hide each other.
      const double px = x(p.x) + (static_cast<double>(i) - (series.size() - 1) / 2.0) * 3.0;
      svg.Interval(px, y, p.low, p.high, colour);
      svg.out() << "<circle cx=\"" << Num(px) << "\" cy=\"" << Num(y(p.y)) << "\" r=\"3.5\" fill=\""
                << colour << "\">"
                << Tooltip(s.name + (s.name.empty() ? "" : ": ") + "x=" + FormatNumber(p.x) +
                           " mean " + FormatNumber(p.y) + ", " + IntervalText(p.low, p.high) +
                           ", n=" + std::to_string(p.n))
                << "</circle>";
    }
    svg.out() << "</g>";
    if (legend) {
      const double ly = kTop + 8 + 18.0 * i;
      svg.out() << "<rect x=\"" << Num(right + 14) << "\" y=\"" << Num(ly - 8)
                << "\" width=\"12\" height=\"12\" fill=\"" << colour << "\"/>"
                << "<text x=\"" << Num(right + 30) << "\" y=\"" << Num(ly + 2)
                << "\" font-size=\"11\">" << HtmlEscape(s.name.empty() ? "(none)" : s.name) << "</text>";
    }
  }
  return svg.Finish();
}

std::string BarPlot(const PlotFrame& frame, const std::vector<Bar>& bars, bool unit_interval) {
  Range yr;
  for (const Bar& b : bars) {
    yr.Add(b.value);
    yr.Add(b.high);
  }
  if (bars.empty() || yr.empty()) return NoDataPlot(frame);
  const double top = unit_interval ? 1.0 : NiceTicks(0, std::max(yr.high, 1e-9), 5).back();
  const double y_high = std::max(top, yr.high);
  const double right = frame.width - 16;
  const Scale y{0.0, y_high, static_cast<double>(frame.height - kBottom), kTop};
  Svg svg(frame);
  svg.YAxis(y, NiceTicks(0, y_high, 5), kLeft, right);
  const double slot = (right - kLeft) / bars.size();
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double cx = kLeft + slot * (i + 0.5);
    const double width = std::min(60.0, slot * 0.6);
    if (Finite(b.value)) {
      const double y0 = y(0), y1 = y(b.value);
      svg.out() << "<rect class=\"bar\" x=\"" << Num(cx - width / 2) << "\" y=\"" << Num(y1)
                << "\" width=\"" << Num(width) << "\" height=\"" << Num(std::max(0.0, y0 - y1))
                << "\" fill=\"" << kPalette[0] << "\" fill-opacity=\"0.8\">"
                << Tooltip(b.label + ": " + FormatNumber(b.value) + " (" + b.note + "), " +
                           IntervalText(b.low, b.high))
                << "</rect>";
      svg.Interval(cx, y, b.low, b.high, "#222");
    }
    svg.XTick(cx, y.p0, b.label, b.note);
  }
  return svg.Finish();
}

std::string BoxPlot(const PlotFrame& frame, const std::vector<BoxGroup>& groups) {
  Range yr;
  for (const BoxGroup& g : groups) {
    for (double v : g.values) yr.Add(v);
  }
  if (groups.empty() || yr.empty()) return NoDataPlot(frame);
  const Range yp = yr.Padded();
  const double right = frame.width - 16;
  const Scale y{yp.low, yp.high, static_cast<double>(frame.height - kBottom), kTop};
  Svg svg(frame);
  svg.YAxis(y, NiceTicks(yp.low, yp.high, 5), kLeft, right);
  const double slot = (right - kLeft) / groups.size();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const char* colour = kPalette[i % kPaletteSize];
    const double cx = kLeft + slot * (i + 0.5);
    std::vector<double> v;
    for (double value : groups[i].values) {
      if (Finite(value)) v.push_back(value);
    }
    std::sort(v.begin(), v.end());
    svg.XTick(cx, y.p0, groups[i].label, "n=" + std::to_string(v.size()));
    if (v.empty()) continue;
    auto quantile = [&](double p) {
      const double pos = p * (v.size() - 1);
      const std::size_t lo = static_cast<std::size_t>(pos);
      const std::size_t hi = std::min(lo + 1, v.size() - 1);
      return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    };
    const double q1 = quantile(0.25), median = quantile(0.5), q3 = quantile(0.75);
    const double iqr = q3 - q1;
    double whisker_low = q1, whisker_high = q3;
    for (double value : v) {
      if (value >= q1 - 1.5 * iqr) whisker_low = std::min(whisker_low, value);
      if (value <= q3 + 1.5 * iqr) whisker_high = std::max(whisker_high, value);
    }
    const double width = std::min(70.0, slot * 0.5);
    svg.out() << "<g class=\"box\" data-group=\"" << HtmlEscape(groups[i].label) << "\">";
    svg.out() << "<path d=\"M" << Num(cx) << ' ' << Num(y(whisker_low)) << "V" << Num(y(q1)) << "M"
              << Num(cx) << ' ' << Num(y(q3)) << "V" << Num(y(whisker_high)) << "M" << Num(cx - width / 4)
              << ' ' << Num(y(whisker_low)) << "h" << Num(width / 2) << "M" << Num(cx - width / 4) << ' '
              << Num(y(whisker_high)) << "h" << Num(width / 2) << "\" stroke=\"#333\" fill=\"none\"/>";
    svg.out() << "<rect x=\"" << Num(cx - width / 2) << "\" y=\"" << Num(y(q3)) << "\" width=\""
              << Num(width) << "\" height=\"" << Num(std::max(1.0, y(q1) - y(q3))) << "\" fill=\""
              << colour << "\" fill-opacity=\"0.25\" stroke=\"" << colour << "\">"
              << Tooltip(groups[i].label + ": median " + FormatNumber(median) + ", quartiles " +
                         FormatNumber(q1) + " to " + FormatNumber(q3) + ", n=" + std::to_string(v.size()))
              << "</rect>";
    svg.out() << "<line x1=\"" << Num(cx - width / 2) << "\" x2=\"" << Num(cx + width / 2) << "\" y1=\""
              << Num(y(median)) << "\" y2=\"" << Num(y(median)) << "\" stroke=\"#111\" stroke-width=\"2\"/>";
    // The strip: every value, spread by a fixed pattern (no randomness: same data, same page).
    const std::size_t max_dots = 400;
    const std::size_t stride = std::max<std::size_t>(1, v.size() / max_dots);
    for (std::size_t k = 0; k < v.size(); k += stride) {
      const double jitter = (static_cast<double>((k * 7919) % 101) / 100.0 - 0.5) * width * 0.8;
      svg.out() << "<circle cx=\"" << Num(cx + jitter) << "\" cy=\"" << Num(y(v[k]))
                << "\" r=\"2\" fill=\"" << colour << "\" fill-opacity=\"0.6\"/>";
    }
    svg.out() << "</g>";
  }
  return svg.Finish();
}

}  // namespace farmctl::report
