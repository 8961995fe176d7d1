#include "report.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "farm/analysis/bootstrap.h"
#include "farm/analysis/proportion.h"
#include "report_data.h"
#include "report_effects.h"
#include "report_svg.h"
#include "report_thumbs.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
namespace fa = farm::analysis;
using report::FormatNumber;
using report::HtmlEscape;
using report::RenderRow;

constexpr char kStyle[] = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f6f4}
main{max-width:1400px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666}.summary{border-collapse:collapse;background:#fff}
.summary td,.summary th{padding:4px 10px;border:1px solid #e2e2e2;text-align:left;vertical-align:top}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:12px}
.plots svg{width:100%;height:auto;background:#fff;border:1px solid #e2e2e2}
table.sheet{border-collapse:collapse;background:#fff}
table.sheet th{background:#f0f0ee;padding:4px 8px;border:1px solid #ddd;font-weight:600;white-space:nowrap}
table.sheet td{border:1px solid #e5e5e5;padding:4px;vertical-align:top}
.cell{display:flex;flex-wrap:wrap;gap:4px;max-width:560px}
figure.thumb{margin:0;text-align:center;font-size:11px}
figure.thumb img{display:block;background:#ddd;border-radius:2px}
.missing{display:flex;align-items:center;justify-content:center;background:#eee;color:#777;font-size:11px;text-align:center;padding:4px;box-sizing:border-box;overflow:hidden;word-break:break-word}
.more{font-size:11px;color:#666;align-self:center;padding:0 4px}
table.ranked{border-collapse:collapse;background:#fff;width:100%}
table.ranked td,table.ranked th{border:1px solid #e5e5e5;padding:4px 8px;vertical-align:top;text-align:left}
code{font-size:12px;word-break:break-word;user-select:all}
footer{margin-top:32px;font-size:12px;color:#777}
)css";

std::string IsoTime(std::int64_t ms) {
  const time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

std::string Duration(std::int64_t ms) {
  const std::int64_t s = ms / 1000;
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << " h " << (s % 3600) / 60 << " min";
  else if (s >= 60) out << s / 60 << " min " << s % 60 << " s";
  else out << FormatNumber(ms / 1000.0, 3) << " s";
  return out.str();
}

std::string Interval(double low, double high) {
  if (!std::isfinite(low) || !std::isfinite(high)) return "no interval (fewer than 2 values)";
  return "95% CI [" + FormatNumber(low) + ", " + FormatNumber(high) + "]";
}

std::string ScoreText(const RenderRow& row) {
  if (row.score) return FormatNumber(*row.score, 3);
  if (row.faces_found && *row.faces_found == 0) return "no face";
  if (row.image_path.empty()) return row.status;
  return "not scored";
}

// Best first; unscored after every scored render, then by id.
bool BetterScore(const RenderRow* a, const RenderRow* b) {
  if (a->score.has_value() != b->score.has_value()) return a->score.has_value();
  if (a->score && *a->score != *b->score) return *a->score > *b->score;
  return a->render_id < b->render_id;
}

class ReportWriter {
 public:
  ReportWriter(const report::ReportData& data, const ReportOptions& options)
      : data_(data), options_(options) {}

  // Which renders get a thumbnail: the contact sheets' (capped) and the best/worst.
  void PlanThumbnails() {
    for (const RenderRow& row : data_.rows) {
      sheet_cells_[{*report::ParameterValue(row, options_.group_rows),
                    *report::ParameterValue(row, options_.group_columns)}]
          .push_back(&row);
    }
    std::size_t nonempty = sheet_cells_.size();
    const std::size_t cap = static_cast<std::size_t>(std::max(0, options_.max_sheet_thumbnails));
    per_cell_ = nonempty == 0 ? 0 : std::max<std::size_t>(1, cap / nonempty);
    std::size_t total = 0;
    for (auto& [key, cell] : sheet_cells_) {
      std::sort(cell.begin(), cell.end(), BetterScore);
      const std::size_t shown = std::min({cell.size(), per_cell_, cap - std::min(cap, total)});
      shown_[key] = shown;
      total += shown;
      summary_.thumbnails_left_out += static_cast<int>(cell.size() - shown);
      for (std::size_t i = 0; i < shown; ++i) Want(*cell[i]);
    }
    std::vector<const RenderRow*> scored;
    for (const RenderRow& row : data_.rows) {
      if (row.score) scored.push_back(&row);
    }
    std::sort(scored.begin(), scored.end(), BetterScore);
    const std::size_t k = std::min(scored.size(), static_cast<std::size_t>(std::max(0, options_.best)));
    best_.assign(scored.begin(), scored.begin() + k);
    // Worst: the lowest k not already among the best (a small sweep shows each render once).
    for (std::size_t i = scored.size(); i > k && worst_.size() < k; --i) worst_.push_back(scored[i - 1]);
    for (const RenderRow* row : best_) Want(*row);
    for (const RenderRow* row : worst_) Want(*row);
  }

  void MakeThumbnails() {
    report::ThumbnailOptions thumb_options;
    thumb_options.agent_path = options_.agent_path;
    thumb_options.cache_dir = options_.thumb_cache_dir;
    thumb_options.size = options_.thumb_size;
    thumb_options.processes = options_.thumb_processes;
    thumbs_ = report::MakeThumbnails(requests_, thumb_options);
    for (const auto& [sha, thumb] : thumbs_) {
      if (!thumb.error.empty()) {
        ++summary_.thumbnail_failures;
        if (summary_.warnings.size() < 5) summary_.warnings.push_back(thumb.error);
      }
    }
  }

  std::string Page() {
    std::ostringstream page;
    const std::string title = "Sweep " + std::to_string(data_.sweep.id) +
                              (data_.sweep.name.empty() ? "" : " \u00b7 " + data_.sweep.name);
    page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         << "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         << "<title>" << HtmlEscape(title) << " \u2014 StudioFarm report</title><style>" << kStyle
         << "</style></head><body><main>\n";
    page << "<h1>" << HtmlEscape(title) << "</h1>\n";
    Summary(page);
    page << "<h2 id=\"effects\">Effects</h2>\n<div class=\"plots\">\n";
    report::EffectsPlotOptions plot_options{options_.success_threshold, options_.seed};
    for (const std::string& svg : report::EffectsPlots(data_.rows, plot_options)) page << svg << "\n";
    page << "</div>\n";
    ContactSheet(page);
    Ranked(page, "best", "Best renders", best_);
    Ranked(page, "worst", "Worst renders", worst_);
    page << "<footer>StudioFarm <code>farmctl report</code> \u00b7 " << HtmlEscape(options_.generated_at)
         << " \u00b7 intervals: bootstrap (seed " << options_.seed << ") for means, Wilson for rates"
         << "</footer>\n</main></body></html>\n";
    return page.str();
  }

  ReportSummary& summary() { return summary_; }

 private:
  void Want(const RenderRow& row) {
    if (row.image_sha256.empty() || row.image_path.empty() || wanted_.count(row.image_sha256)) return;
    wanted_.insert(row.image_sha256);
    const fs::path file = fs::path(options_.artifact_root) / row.image_path;
    requests_.push_back({row.image_sha256, file.string()});
  }

  void Summary(std::ostream& page) {
    std::map<std::string, int> by_status;
    std::vector<double> scores;
    std::size_t faces = 0, face_known = 0;
    std::int64_t first = 0, last = 0;
    double seconds = 0;
    for (const RenderRow& row : data_.rows) {
      ++by_status[row.status];
      if (row.score) scores.push_back(*row.score);
      if (row.faces_found) {
        ++face_known;
        if (*row.faces_found > 0) ++faces;
      }
      if (row.rendered_at_ms) {
        first = first == 0 ? *row.rendered_at_ms : std::min(first, *row.rendered_at_ms);
        last = std::max(last, *row.rendered_at_ms);
      }
      if (row.seconds) seconds += *row.seconds;
    }
    fa::BootstrapOptions bootstrap;
    bootstrap.seed = options_.seed;
    const fa::MeanCi mean = fa::BootstrapMean(scores, bootstrap);
    const fa::Proportion face_rate = fa::MakeProportion(faces, face_known);
    std::string statuses;
    for (const auto& [status, count] : by_status) {
      statuses += (statuses.empty() ? "" : ", ") + status + " " + std::to_string(count);
    }
    page << "<table class=\"summary\" id=\"summary\">\n";
    auto line = [&](const std::string& name, const std::string& value) {
      page << "<tr><th>" << HtmlEscape(name) << "</th><td>" << value << "</td></tr>\n";
    };
    line("sweep", std::to_string(data_.sweep.id) + " " + HtmlEscape(data_.sweep.name) + " (" +
                      HtmlEscape(data_.sweep.state) + ", created " + IsoTime(data_.sweep.created_at_ms) + ")");
    line("renders", std::to_string(data_.rows.size()) + (statuses.empty() ? "" : ": " + HtmlEscape(statuses)));
    line("mean score (cosine)",
         scores.empty() ? "no scored renders"
                        : FormatNumber(mean.mean) + " \u00b7 " + Interval(mean.ci.low, mean.ci.high) +
                              " \u00b7 n=" + std::to_string(mean.n));
    line("face found", face_known == 0 ? "not scored yet"
                                       : std::to_string(faces) + "/" + std::to_string(face_known) + " = " +
                                             FormatNumber(face_rate.rate * 100, 3) + "% \u00b7 Wilson " +
                                             Interval(face_rate.ci.low * 100, face_rate.ci.high * 100) + " %");
    line("time span", first == 0 ? "nothing rendered yet"
                                 : IsoTime(first) + " \u2192 " + IsoTime(last) + " (" + Duration(last - first) +
                                       "; " + Duration(static_cast<std::int64_t>(seconds * 1000)) +
                                       " of render time)");
    page << "</table>\n";
  }

  std::string ThumbFigure(const RenderRow& row) {
    std::ostringstream out;
    const int box = options_.thumb_size;
    const auto it = thumbs_.find(row.image_sha256);
    const std::string caption = "#" + std::to_string(row.render_id) + " \u00b7 " + ScoreText(row);
    out << "<figure class=\"thumb\" data-render=\"" << row.render_id << "\">";
    if (row.image_sha256.empty() || it == thumbs_.end() || it->second.data_uri.empty()) {
      const std::string why = row.image_sha256.empty() ? "not rendered (" + row.status + ")"
                              : it == thumbs_.end()   ? "no thumbnail"
                                                      : it->second.error;
      // The box the thumbnail would fill, so a sheet with gaps keeps its grid.
      const int longest = std::max({row.width, row.height, 1});
      const int w = row.width > 0 ? std::max(16, box * row.width / longest) : box;
      const int h = row.height > 0 ? std::max(16, box * row.height / longest) : box;
      out << "<div class=\"missing\" style=\"width:" << w << "px;height:" << h
          << "px\" title=\"" << HtmlEscape(why) << "\">" << HtmlEscape(why.substr(0, why.find(": "))) << "</div>";
    } else {
      if (embedded_.insert(row.image_sha256).second) ++summary_.thumbnails;
      out << "<img src=\"" << it->second.data_uri << "\" width=\"" << it->second.width << "\" height=\""
          << it->second.height << "\" alt=\"render " << row.render_id << "\" title=\""
          << HtmlEscape(report::ParameterLine(row)) << "\">";
    }
    out << "<figcaption>" << HtmlEscape(caption) << "</figcaption></figure>";
    return out.str();
  }

  void ContactSheet(std::ostream& page) {
    page << "<h2 id=\"contact-sheet\">Contact sheet: " << HtmlEscape(options_.group_rows) << " \u00d7 "
         << HtmlEscape(options_.group_columns) << "</h2>\n";
    if (data_.rows.empty()) {
      page << "<p class=\"muted\">The sweep has no renders.</p>\n";
      return;
    }
    std::vector<std::string> row_values, column_values;
    for (const auto& [key, cell] : sheet_cells_) {
      row_values.push_back(key.first);
      column_values.push_back(key.second);
    }
    row_values = report::OrderLevels(row_values);
    column_values = report::OrderLevels(column_values);
    page << "<p class=\"muted\">Best first in each cell, score under each image";
    if (summary_.thumbnails_left_out > 0) {
      page << "; at most " << per_cell_ << " per cell and " << options_.max_sheet_thumbnails
           << " in all, so " << summary_.thumbnails_left_out
           << " lower-scored renders are left out (counted as \u201c+N more\u201d in their cells)";
    }
    page << ".</p>\n<table class=\"sheet\"><tr><th>" << HtmlEscape(options_.group_rows) << " \\ "
         << HtmlEscape(options_.group_columns) << "</th>";
    for (const std::string& c : column_values) page << "<th>" << HtmlEscape(c) << "</th>";
    page << "</tr>\n";
    for (const std::string& r : row_values) {
      page << "<tr><th>" << HtmlEscape(r) << "</th>";
      for (const std::string& c : column_values) {
        page << "<td><div class=\"cell\">";
        const auto it = sheet_cells_.find({r, c});
        if (it != sheet_cells_.end()) {
          const std::size_t shown = shown_[it->first];
          for (std::size_t i = 0; i < shown; ++i) page << ThumbFigure(*it->second[i]);
          if (it->second.size() > shown) page << "<span class=\"more\">+" << it->second.size() - shown << " more</span>";
        }
        page << "</div></td>";
      }
      page << "</tr>\n";
    }
    page << "</table>\n";
  }

  void Ranked(std::ostream& page, const std::string& id, const std::string& title,
              const std::vector<const RenderRow*>& rows) {
    if (options_.best <= 0) return;
    page << "<h2 id=\"" << id << "\">" << HtmlEscape(title) << "</h2>\n";
    if (rows.empty()) {
      page << "<p class=\"muted\">No scored renders yet.</p>\n";
      return;
    }
    page << "<table class=\"ranked\"><tr><th>image</th><th>render</th><th>score</th><th>faces</th>"
         << "<th>parameters</th></tr>\n";
    for (const RenderRow* row : rows) {
      page << "<tr><td>" << ThumbFigure(*row) << "</td><td>" << row->render_id << "<br><span class=\"muted\">"
           << row->param_hash.substr(0, 12) << "</span></td><td>" << ScoreText(*row) << "</td><td>"
           << (row->faces_found ? std::to_string(*row->faces_found) : "") << "</td><td><code>"
           << HtmlEscape(report::ParameterLine(*row)) << "</code>";
      if (!row->prompt.empty()) page << "<br><span class=\"muted\">" << HtmlEscape(row->prompt) << "</span>";
      page << "</td></tr>\n";
    }
    page << "</table>\n";
  }

  const report::ReportData& data_;
  const ReportOptions& options_;
  ReportSummary summary_;
  std::map<std::pair<std::string, std::string>, std::vector<const RenderRow*>> sheet_cells_;
  std::map<std::pair<std::string, std::string>, std::size_t> shown_;
  std::size_t per_cell_ = 0;
  std::vector<const RenderRow*> best_, worst_;
  std::set<std::string> wanted_;
  std::set<std::string> embedded_;  // distinct images on the page (best/worst repeat some)
  std::vector<report::ThumbnailRequest> requests_;
  std::map<std::string, report::Thumbnail> thumbs_;
};

}  // namespace

const std::vector<std::string>& ReportGroupParameters() {
  static const std::vector<std::string> kNames = {
      "pose", "tone", "sampler", "scheduler", "cfg", "steps", "clip_skip", "seed", "size",
      "denoise", "lora", "lora_step", "lora_weight", "checkpoint", "status", "agent", "face_found"};
  return kNames;
}

farm::StatusOr<ReportSummary> WriteSweepReport(farm::store::Store& store, std::int64_t sweep_id,
                                               const ReportOptions& options, const std::string& path) {
  for (const std::string* name : {&options.group_rows, &options.group_columns}) {
    const auto& known = ReportGroupParameters();
    if (std::find(known.begin(), known.end(), *name) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return farm::InvalidArgument("report: cannot group by '" + *name + "'; parameters: " + list);
    }
  }
  if (options.thumb_size < 16 || options.thumb_size > 1024) {
    return farm::InvalidArgument("report: thumbnail size " + std::to_string(options.thumb_size) +
                                 " is outside 16..1024 pixels");
  }
  auto data = report::LoadReportData(store, sweep_id);
  if (!data.ok()) return data.status();

  ReportWriter writer(*data, options);
  writer.PlanThumbnails();
  writer.MakeThumbnails();
  const std::string page = writer.Page();

  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return farm::NotFound("report: cannot write " + temp + " (does its folder exist?)");
    out.write(page.data(), static_cast<std::streamsize>(page.size()));
    if (!out.flush()) return farm::Internal("report: writing " + temp + " failed (disk full?)");
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) return farm::Internal("report: cannot rename " + temp + " to " + path + ": " + ec.message());
  ReportSummary summary = std::move(writer.summary());
  summary.renders = static_cast<int>(data->rows.size());
  summary.bytes = static_cast<std::int64_t>(page.size());
  return summary;
}

}  // namespace farmctl
