#include "ops_doc.h"

#include <fstream>
#include <optional>
#include <sstream>

namespace farm_netns {
namespace {

constexpr char kIndent[] = "    ";  // a Markdown code block

farm::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return farm::NotFound("cannot read '" + path + "'");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The line of a code block without its indentation, or nullopt for prose.
std::optional<std::string> CodeLine(const std::string& line) {
  if (line.rfind(kIndent, 0) != 0) return std::nullopt;
  return line.substr(sizeof(kIndent) - 1);
}

bool EndsWithBackslash(const std::string& text) { return !text.empty() && text.back() == '\\'; }

// A command starting at code line `first` with its backslash continuations, joined by newlines.
std::string Command(const std::vector<std::string>& lines, std::size_t first) {
  std::string command = *CodeLine(lines[first]);
  for (std::size_t i = first; i + 1 < lines.size() && EndsWithBackslash(*CodeLine(lines[i])); ++i) {
    auto next = CodeLine(lines[i + 1]);
    if (!next) break;
    command += "\n" + *next;
  }
  return command;
}

// The flags of the systemd ExecStart line that starts `program`.
farm::StatusOr<Flags> ExecStartFlags(const std::vector<std::string>& lines,
                                     const std::string& program) {
  const std::string start = "ExecStart=" + program + " ";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto code = CodeLine(lines[i]);
    if (!code || code->rfind(start, 0) != 0) continue;
    std::istringstream words(Command(lines, i).substr(start.size()));
    std::vector<std::string> tokens;
    for (std::string word; words >> word;) {
      if (word != "\\") tokens.push_back(word);
    }
    Flags flags;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      if (tokens[t].rfind("--", 0) != 0) {
        return farm::InvalidArgument("docs: '" + start + "...' has a stray word '" + tokens[t] + "'");
      }
      const bool has_value = t + 1 < tokens.size() && tokens[t + 1].rfind("--", 0) != 0;
      flags.emplace_back(tokens[t], has_value ? tokens[t + 1] : "");
      if (has_value) ++t;
    }
    return flags;
  }
  return farm::NotFound("docs: no systemd line '" + start + "...'");
}

}  // namespace

farm::StatusOr<OpsDoc> ReadOpsDoc(const std::string& doc_path, const std::string& config_path) {
  FARM_ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLines(doc_path));
  FARM_ASSIGN_OR_RETURN(std::vector<std::string> config, ReadLines(config_path));
  const auto where = [&doc_path](std::size_t i) { return doc_path + ":" + std::to_string(i + 1); };
  OpsDoc doc;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto code = CodeLine(lines[i]);
    if (!code) continue;
    if (doc.key_commands.empty() &&
        code->rfind("farmctl keys gen --out /etc/studiofarm/keys/", 0) == 0) {
      // The whole code block around it, in order (with what it needs first, e.g. folders).
      std::size_t first = i;
      while (first > 0 && CodeLine(lines[first - 1])) --first;
      for (std::size_t k = first; k < lines.size() && CodeLine(lines[k]); ++k) {
        doc.key_commands.push_back(*CodeLine(lines[k]));
      }
    } else if (code->rfind("awk ", 0) == 0 && doc.allow_list_command.empty()) {
      doc.allow_list_command = Command(lines, i);
    }
  }
  if (doc.key_commands.empty()) {
    return farm::NotFound(doc_path + ": no `farmctl keys gen --out /etc/studiofarm/keys/...` line");
  }
  if (doc.allow_list_command.find("agents.allow") == std::string::npos) {
    return farm::NotFound(doc_path + ": no `awk ... > /etc/studiofarm/keys/agents.allow` command");
  }

  // The config block: the file's lines, indented, one after the other.
  if (config.empty()) return farm::DataLoss(config_path + " is empty");
  std::size_t block = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (CodeLine(lines[i]) == config[0]) block = i;
  }
  if (block == lines.size()) {
    return farm::NotFound(doc_path + " does not show " + config_path + " (no code line '" +
                          config[0] + "')");
  }
  for (std::size_t k = 0; k < config.size(); ++k) {
    const std::size_t i = block + k;
    auto code = i < lines.size() ? CodeLine(lines[i]) : std::nullopt;
    const std::string expected = config[k].empty() ? "" : config[k];
    const bool same = config[k].empty() ? (i < lines.size() && (lines[i].empty() || code == ""))
                                        : code == expected;
    if (!same) {
      return farm::InvalidArgument(where(i) + " differs from " + config_path + ":" +
                                   std::to_string(k + 1) + ": the document shows '" +
                                   (i < lines.size() ? lines[i] : "(end)") + "', the file has '" +
                                   config[k] + "'");
    }
    doc.cluster_config += config[k] + "\n";
  }
  FARM_ASSIGN_OR_RETURN(doc.farmd_flags, ExecStartFlags(lines, "/opt/studiofarm/bin/farmd"));
  FARM_ASSIGN_OR_RETURN(doc.agent_flags, ExecStartFlags(lines, "/opt/studiofarm/bin/farm-agent"));
  return doc;
}

std::string ReplaceAll(std::string text,
                       const std::vector<std::pair<std::string, std::string>>& map) {
  for (const auto& [from, to] : map) {
    for (std::size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  return text;
}

farm::StatusOr<std::vector<std::string>> FlagsWith(const Flags& flags, const Flags& overrides) {
  for (const auto& [flag, value] : overrides) {
    bool found = false;
    for (const auto& entry : flags) found = found || entry.first == flag;
    if (!found) {
      return farm::InvalidArgument("the documented command has no " + flag +
                                   " (the harness sets it to '" + value + "')");
    }
  }
  std::vector<std::string> argv;
  for (const auto& [flag, value] : flags) {
    std::string chosen = value;
    for (const auto& [o_flag, o_value] : overrides) {
      if (o_flag == flag) chosen = o_value;
    }
    argv.push_back(flag);
    if (!chosen.empty()) argv.push_back(chosen);
  }
  return argv;
}

}  // namespace farm_netns
