#include "engine_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "farm/sd/check_reference.h"
#include "farm/sd/engine.h"
#include "farm/sd/tiny_model.h"
#include "farm/sd/train_reference.h"
#ifdef FARM_HAVE_PIPELINE
#include "pipeline_commands.h"
#endif

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct RenderFlags {
  sd::EngineOptions engine;
  sd::RenderRequest request;
  std::string size = "512x512";
  int64_t seed = 0;
  std::vector<std::string> loras;  // path[:weight]
  std::vector<std::string> controlnets;  // model:hint.png[:scale[:start:end]]
  std::vector<std::string> embedding_files, embedding_dirs;  // textual inversion
  std::string init_image, mask, output = "out.png";
  std::string semantics = "frontend";
  bool json_output = false;
};

struct CheckFlags {
  std::string dir;
  double tolerance = 1e-4;
  bool json_output = false;
  bool show_all = false;
};

struct TinyFlags {
  std::string dir;
  uint64_t seed = 0;
  bool json_output = false;
};

RenderFlags g_render;
CheckFlags g_check;
TinyFlags g_tiny;

int Fail(const Status& status) {
  std::fprintf(stderr, "farm-agent: %s\n", status.ToString().c_str());
  return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// "512x768" -> width 512, height 768.
Status ParseSize(const std::string& text, int64_t& width, int64_t& height) {
  size_t x = text.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument("no x");
    size_t used_w = 0, used_h = 0;
    width = std::stoll(text.substr(0, x), &used_w);
    height = std::stoll(text.substr(x + 1), &used_h);
    if (used_w != x || used_h != text.size() - x - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return InvalidArgument("--size '" + text + "': expected WIDTHxHEIGHT, e.g. 512x768");
  }
  return Status::Ok();
}

// "face.safetensors:0.8" (weight optional, default 1).
StatusOr<sd::LoraRequest> ParseLora(const std::string& text) {
  sd::LoraRequest lora{text, 1.0};
  size_t colon = text.rfind(':');
  if (colon != std::string::npos && colon + 1 < text.size()) {
    try {
      size_t used = 0;
      double weight = std::stod(text.substr(colon + 1), &used);
      if (used == text.size() - colon - 1) lora = {text.substr(0, colon), weight};
    } catch (const std::exception&) {
      // Not a number: the colon belongs to the path.
    }
  }
  if (!fs::is_regular_file(lora.path)) return NotFound("--lora " + text + ": no such file " + lora.path);
  return lora;
}

// "model:hint.png[:scale[:start:end]]". Numbers are taken from the end; of what is left,
// the model path is the shortest prefix (up to a colon) that exists, so paths may contain
// colons.
struct ControlNetFlag {
  std::string model, hint;
  double scale = 1.0, start = 0.0, end = 1.0;
};

StatusOr<ControlNetFlag> ParseControlNet(const std::string& text) {
  const std::string usage = "--controlnet " + text + ": expected MODEL:HINT_IMAGE[:SCALE[:START:END]]";
  std::vector<std::string> parts;
  for (size_t begin = 0;;) {
    size_t colon = text.find(':', begin);
    parts.push_back(text.substr(begin, colon == std::string::npos ? std::string::npos : colon - begin));
    if (colon == std::string::npos) break;
    begin = colon + 1;
  }
  auto number = [](const std::string& s, double& out) {
    try {
      size_t used = 0;
      out = std::stod(s, &used);
      return used == s.size() && !s.empty();
    } catch (const std::exception&) {
      return false;
    }
  };
  size_t trailing = 0;
  double values[3] = {0, 0, 0};
  while (trailing < 3 && parts.size() - trailing > 2) {
    double v = 0;
    if (!number(parts[parts.size() - 1 - trailing], v)) break;
    values[2 - trailing] = v;
    ++trailing;
  }
  ControlNetFlag flag;
  if (trailing == 3) {
    flag.scale = values[0];
    flag.start = values[1];
    flag.end = values[2];
  } else if (trailing == 1) {
    flag.scale = values[2];
  } else if (trailing == 2) {
    return InvalidArgument(usage + " (give both START and END)");
  }
  parts.resize(parts.size() - trailing);
  if (parts.size() < 2) return InvalidArgument(usage);
  std::string model = parts[0];
  size_t split = 1;
  while (split + 1 < parts.size() && !fs::exists(model)) model += ":" + parts[split++];
  std::string hint = parts[split];
  for (size_t i = split + 1; i < parts.size(); ++i) hint += ":" + parts[i];
  if (model.empty() || hint.empty()) return InvalidArgument(usage);
  if (!fs::exists(model)) return NotFound("--controlnet " + text + ": no such ControlNet file or folder " + model);
  if (!fs::is_regular_file(hint)) return NotFound("--controlnet " + text + ": no such hint image " + hint);
  flag.model = model;
  flag.hint = hint;
  return flag;
}

// An image file as [3, H, W] float RGB in [0, 1] (or [H, W] for a mask), resized to the
// render size when it differs.
StatusOr<at::Tensor> ReadImage(const std::string& path, int64_t width, int64_t height, bool gray) {
  cv::Mat image = cv::imread(path, gray ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  if (image.empty()) return InvalidArgument(path + ": not a readable image (PNG, JPEG, ...)");
  if (image.cols != width || image.rows != height) {
    cv::resize(image, image, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0, cv::INTER_AREA);
  }
  if (!gray) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  at::Tensor t = at::from_blob(image.data, {image.rows, image.cols, image.channels()}, at::kByte).clone();
  t = t.to(at::kFloat).div(255.0);
  if (gray) return t.squeeze(-1);
  return t.permute({2, 0, 1}).contiguous();
}

Status WritePng(const std::string& path, const at::Tensor& hwc_uint8) {
  at::Tensor rgb = hwc_uint8.contiguous();
  cv::Mat image(static_cast<int>(rgb.size(0)), static_cast<int>(rgb.size(1)), CV_8UC3, rgb.data_ptr());
  cv::Mat bgr;
  cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
  const std::string tmp = path + ".tmp.png";
  if (!cv::imwrite(tmp, bgr)) return Unavailable("cannot write " + path);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

std::string OutputPath(const std::string& output, int64_t index, int64_t batch) {
  if (batch == 1) return output;
  fs::path p(output);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index) + p.extension().string())).string();
}

// A one-line progress bar over sampler steps on stderr (only on a terminal).
class StepProgress {
 public:
  explicit StepProgress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}
  void operator()(int64_t done, int64_t total) {
    if (!enabled_) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const int width = 30;
    const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\rsampling [%s%s] %lld/%lld  %.2f it/s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), elapsed > 0 ? done / elapsed : 0.0);
    if (done == total) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

int RunRender() {
  RenderFlags& f = g_render;
  sd::RenderRequest& r = f.request;
  Status size = ParseSize(f.size, r.width, r.height);
  if (!size.ok()) return Fail(size);
  if (f.seed < 0) {
    // A random seed is still a recorded seed: it is printed and written next to the image.
    std::random_device device;
    r.seed = (static_cast<uint64_t>(device()) << 32 | device()) & 0xFFFFFFFFull;
  } else {
    r.seed = static_cast<uint64_t>(f.seed);
  }
  for (const std::string& dir : f.embedding_dirs) {
    StatusOr<std::vector<sd::TextualInversion>> read = sd::ReadTextualInversionDir(dir);
    if (!read.ok()) return Fail(read.status().WithContext("--embeddings"));
    for (sd::TextualInversion& embedding : *read) r.embeddings.push_back(std::move(embedding));
  }
  for (const std::string& path : f.embedding_files) {
    StatusOr<sd::TextualInversion> read = sd::ReadTextualInversion(path);
    if (!read.ok()) return Fail(read.status().WithContext("--embedding"));
    r.embeddings.push_back(std::move(*read));
  }
  for (size_t i = 0; i < r.embeddings.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (r.embeddings[i].name == r.embeddings[j].name) {
        return Fail(InvalidArgument("two embeddings named '" + r.embeddings[i].name + "': " + r.embeddings[j].path +
                                    " and " + r.embeddings[i].path));
      }
    }
  }
  for (const std::string& text : f.loras) {
    StatusOr<sd::LoraRequest> lora = ParseLora(text);
    if (!lora.ok()) return Fail(lora.status());
    r.loras.push_back(*lora);
  }
#ifdef FARM_HAVE_PIPELINE
  if (PipelineRequested()) {
    // The whole recipe (agent/pipeline): txt2img with pose and tone, then the stages.
    if (r.init_image || !f.init_image.empty() || !f.mask.empty() || !f.controlnets.empty() || r.batch != 1) {
      return Fail(InvalidArgument("--pipeline/--pose/--tone take no --init-image, --mask, --controlnet or --batch"));
    }
    PipelineRenderInput in;
    in.checkpoint = f.engine.checkpoint;
    in.tokenizer_dir = f.engine.tokenizer_dir;
    in.vae = f.engine.vae;
    for (const sd::TextualInversion& embedding : r.embeddings) in.embeddings[embedding.name] = embedding.path;
    in.device = f.engine.device;
    in.threads = f.engine.threads;
    in.prompt = r.prompt;
    in.negative_prompt = r.negative_prompt;
    in.sampler = r.sampler;
    in.steps = r.steps;
    in.cfg = r.cfg_scale;
    in.clip_skip = r.clip_skip;
    in.seed = r.seed;
    in.width = r.width;
    in.height = r.height;
    for (const sd::LoraRequest& lora : r.loras) in.loras.emplace_back(lora.path, lora.multiplier);
    in.output = f.output;
    in.json_output = f.json_output;
    return RunPipelineRender(in);
  }
#endif
  if (f.semantics == "diffusers") r.semantics = sd::ScheduleSemantics::kDiffusersReference;
  if (!f.init_image.empty()) {
    StatusOr<at::Tensor> image = ReadImage(f.init_image, r.width, r.height, false);
    if (!image.ok()) return Fail(image.status());
    r.init_image = *image;
  }
  if (!f.mask.empty()) {
    StatusOr<at::Tensor> mask = ReadImage(f.mask, r.width, r.height, true);
    if (!mask.ok()) return Fail(mask.status());
    r.mask = *mask;
  }
  json controlnets = json::array();
  for (const std::string& text : f.controlnets) {
    StatusOr<ControlNetFlag> flag = ParseControlNet(text);
    if (!flag.ok()) return Fail(flag.status());
    // The hint is resized to the render size ("just resize"), like the init image.
    StatusOr<at::Tensor> hint = ReadImage(flag->hint, r.width, r.height, false);
    if (!hint.ok()) return Fail(hint.status().WithContext("--controlnet hint"));
    r.controlnets.push_back({flag->model, *hint, flag->scale, flag->start, flag->end});
    // Named like the farm's render parameters (schemas/render_params.h ControlNetUnit).
    controlnets.push_back({{"model", flag->model}, {"input", flag->hint}, {"weight", flag->scale},
                           {"start", flag->start}, {"end", flag->end}});
  }

  json embeddings = json::object();  // name -> file
  for (const sd::TextualInversion& embedding : r.embeddings) embeddings[embedding.name] = embedding.path;

  const auto started = std::chrono::steady_clock::now();
  StatusOr<std::unique_ptr<sd::Engine>> engine = sd::Engine::Load(f.engine);
  if (!engine.ok()) return Fail(engine.status());
  const auto loaded = std::chrono::steady_clock::now();
  StepProgress progress(!f.json_output);
  StatusOr<sd::RenderOutput> out =
      (*engine)->Render(r, [&](int64_t done, int64_t total) { progress(done, total); });
  if (!out.ok()) return Fail(out.status());
  const auto rendered = std::chrono::steady_clock::now();

  json record = {
      {"checkpoint", f.engine.checkpoint}, {"vae", f.engine.vae}, {"prompt", r.prompt},
      {"negative_prompt", r.negative_prompt},
      {"sampler", r.sampler}, {"steps", r.steps}, {"cfg_scale", r.cfg_scale}, {"clip_skip", r.clip_skip},
      {"width", r.width}, {"height", r.height}, {"scheduler_semantics", f.semantics},
      {"loras", out->loras_applied}, {"device", out->device}, {"threads", out->threads},
      {"init_image", f.init_image}, {"strength", r.strength}, {"mask", f.mask},
      {"controlnets", controlnets}, {"embeddings", embeddings}, {"embeddings_used", out->embeddings_used},
      {"load_seconds", std::chrono::duration<double>(loaded - started).count()},
      {"render_seconds", std::chrono::duration<double>(rendered - loaded).count()},
  };
  json images = json::array();
  for (int64_t i = 0; i < r.batch; ++i) {
    const std::string path = OutputPath(f.output, i, r.batch);
    Status written = WritePng(path, out->images[i]);
    if (!written.ok()) return Fail(written);
    json image_record = record;
    image_record["seed"] = out->seeds[i];
    image_record["image"] = path;
    // Everything the image depends on, next to it.
    std::ofstream(path + ".json") << image_record.dump(2) << "\n";
    images.push_back(image_record);
  }
  if (f.json_output) {
    std::printf("%s\n", json{{"images", images}}.dump().c_str());
  } else {
    for (const json& image : images) {
      std::printf("wrote %s (seed %llu)\n", image["image"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(image["seed"].get<uint64_t>()));
    }
  }
  return 0;
}

int RunCheckReference() {
  sd::ReferenceCheckOptions options;
  options.tolerance = g_check.tolerance;
  // The kind of reference is told apart by its files: a training-step set
  // (shared/reference/train) or an inference set (shared/reference/sd15).
  StatusOr<sd::ReferenceCheckReport> report = sd::IsTrainReference(g_check.dir)
                                                   ? sd::CheckTrainReference(g_check.dir)
                                                   : sd::CheckReference(g_check.dir, options);
  if (!report.ok()) return Fail(report.status());
  if (g_check.json_output) {
    json rows = json::array();
    for (const sd::TensorComparison& c : report->rows) {
      rows.push_back({{"tensor", c.name}, {"max_abs", c.max_abs}, {"max_rel", c.max_rel},
                      {"scale", c.scale}, {"limit", c.limit}, {"tolerance", c.tolerance},
                      {"passed", c.passed}, {"shape_mismatch", c.shape_note}});
    }
    std::printf("%s\n", json{{"dir", report->dir}, {"passed", report->passed()}, {"rows", rows},
                             {"skipped", report->skipped}}.dump().c_str());
  } else {
    std::printf("%-60s %12s %12s %14s  %s\n", "tensor", "max_abs", "max_rel", "limit", "result");
    size_t failed = 0;
    for (const sd::TensorComparison& c : report->rows) {
      if (!c.passed) ++failed;
      if (c.passed && !g_check.show_all && c.name.find("_step") != std::string::npos) continue;
      std::printf("%-60s %12.3g %12.3g %5s<=%-8.2g  %s%s\n", c.name.c_str(), c.max_abs, c.max_rel,
                  c.limit.c_str(), c.tolerance, c.passed ? "ok" : "FAIL",
                  c.shape_note.empty() ? "" : (" shape " + c.shape_note).c_str());
    }
    for (const std::string& s : report->skipped) std::printf("skipped: %s\n", s.c_str());
    std::printf("%zu tensors compared, %zu failed%s\n", report->rows.size(), failed,
                g_check.show_all ? "" : " (per-step rows that passed are hidden; --all shows them)");
  }
  return report->passed() ? 0 : 1;
}

int RunMakeTinyModel() {
  StatusOr<sd::TinyModelFiles> files = sd::MakeTinyModel(g_tiny.dir, g_tiny.seed);
  if (!files.ok()) return Fail(files.status());
  if (g_tiny.json_output) {
    std::printf("%s\n", json{{"checkpoint", files->checkpoint}, {"tokenizer", files->tokenizer_dir},
                             {"controlnet", files->controlnet}, {"lora", files->lora},
                             {"seed", g_tiny.seed}}.dump().c_str());
  } else {
    std::printf("wrote %s, %s, %s and %s (random weights, seed %llu: images from it are not meaningful)\n",
                files->checkpoint.c_str(), files->controlnet.c_str(), files->lora.c_str(),
                files->tokenizer_dir.c_str(), static_cast<unsigned long long>(g_tiny.seed));
  }
  return 0;
}

}  // namespace

void AddEngineCommands(CLI::App& app) {
  CLI::App* render = app.add_subcommand("render", "render one image (or a batch) without the farm");
  RenderFlags& f = g_render;
  render->add_option("--checkpoint", f.engine.checkpoint, "SD 1.5 .safetensors (LDM layout) or diffusers folder")
      ->required();
  render->add_option("--vae", f.engine.vae,
                     "a VAE-only .safetensors (LDM or diffusers layout, e.g. the ft-MSE VAE) replacing the "
                     "checkpoint's; recorded by SHA-256 (\"VAE hash\" in the PNG)");
  render->add_option("--embedding", f.embedding_files,
                     "a textual-inversion embedding .safetensors (A1111's emb_params); its file name without "
                     "extension in the prompt or negative prompt inserts its vectors (repeatable)");
  render->add_option("--embeddings", f.embedding_dirs,
                     "a folder of textual-inversion embeddings (every .safetensors in it and its subfolders, "
                     "named by file stem, as A1111's embeddings folder; repeatable)");
  render->add_option("--tokenizer", f.engine.tokenizer_dir,
                     "folder with vocab.json + merges.txt (default: tokenizer/ next to the checkpoint if it "
                     "exists, else the bundled CLIP vocabulary)");
  render->add_option("--prompt", f.request.prompt, "prompt, A1111 syntax: (word:1.2), [word], BREAK, <lora:name:w>");
  render->add_option("--negative", f.request.negative_prompt, "negative prompt");
  render->add_option("--sampler", f.request.sampler, "Euler, Euler a, DPM++ 2M, DPM++ 2M Karras, DPM++ SDE Karras, DDIM, ...")
      ->capture_default_str();
  render->add_option("--steps", f.request.steps, "sampling steps")->capture_default_str()->check(CLI::Range(1, 1000));
  render->add_option("--cfg", f.request.cfg_scale, "classifier-free guidance scale")->capture_default_str();
  render->add_option("--clip-skip", f.request.clip_skip, "1 = last CLIP layer, 2 = penultimate")->capture_default_str();
  render->add_option("--seed", f.seed, "seed of the first image (image i uses seed+i); -1 picks one and records it")
      ->capture_default_str();
  render->add_option("--size", f.size, "WIDTHxHEIGHT, multiples of 8")->capture_default_str();
  render->add_option("--batch", f.request.batch, "images in one batch")->capture_default_str()->check(CLI::Range(1, 64));
  render->add_option("--lora", f.loras, "kohya LoRA as PATH[:WEIGHT] (repeatable)");
  render->add_option("--lora-dir", f.engine.lora_dirs, "folder searched for <lora:name:w> prompt tags (repeatable)");
  render->add_option("--init-image", f.init_image, "img2img: start from this image");
  render->add_option("--strength", f.request.strength, "img2img: how much to change (0..1)")->capture_default_str();
  render->add_option("--mask", f.mask, "inpaint: white = repaint, black = keep (needs --init-image)");
  render->add_option("--controlnet", f.controlnets,
                     "ControlNet unit MODEL:HINT.png[:SCALE[:START:END]] (repeatable, residuals summed); the hint "
                     "is resized to --size, used in [0,1]; active for steps i with START <= i/steps < END "
                     "(defaults 1:0:1)");
  render->add_option("--device", f.engine.device, "cpu, cuda or cuda:N")->capture_default_str();
  render->add_option("--threads", f.engine.threads, "CPU threads (0 = libtorch default); recorded");
  render->add_option("--scheduler-semantics", f.semantics,
                     "frontend (A1111/k-diffusion, default) or diffusers (diffusers v0.25.1 schedules)")
      ->check(CLI::IsMember({"frontend", "diffusers"}))
      ->capture_default_str();
  render->add_option("-o,--output", f.output, "PNG to write (batch: NAME-i.png); parameters go to NAME.png.json")
      ->capture_default_str();
  render->add_flag("--json", f.json_output, "print one JSON object with every image and its parameters");
#ifdef FARM_HAVE_PIPELINE
  AddPipelineFlags(render);
#endif

  CLI::App* check = app.add_subcommand(
      "check-reference", "compare the engine with reference outputs: an inference set (shared/reference/sd15 "
      "layout) or a LoRA training-step set (shared/reference/train layout, told apart by its "
      "train_config.json; tolerances from its suggested_tolerances)");
  check->add_option("dir", g_check.dir, "reference folder")->required()->check(CLI::ExistingDirectory);
  check->add_option("--tolerance", g_check.tolerance, "max |a-b| / max |reference| for fp32 tensors")
      ->capture_default_str();
  check->add_flag("--all", g_check.show_all, "also list per-step rows that passed");
  check->add_flag("--json", g_check.json_output, "print the report as JSON");

  CLI::App* tiny = app.add_subcommand(
      "make-tiny-model",
      "write a tiny random SD 1.5-topology checkpoint, a ControlNet for it and a tokenizer (for tests)");
  tiny->add_option("dir", g_tiny.dir, "output folder")->required();
  tiny->add_option("--seed", g_tiny.seed, "weights seed")->capture_default_str();
  tiny->add_flag("--json", g_tiny.json_output, "print the written paths as JSON");
}

int RunEngineCommand(const CLI::App& app) {
  if (app.got_subcommand("render")) return RunRender();
  if (app.got_subcommand("check-reference")) return RunCheckReference();
  if (app.got_subcommand("make-tiny-model")) return RunMakeTinyModel();
  return -1;
}

}  // namespace farm::agent
