// Tone: the colour grade of the render's tone preset (tones.yaml `grade`), each field
// overridable by the stage's settings.
#include "engine_calls.h"
#include "farm/image/tone_grade.h"
#include "settings_reader.h"

namespace farm::pipeline {

StatusOr<StageRun> RunTone(const StageContext& context, const farm::Settings& settings,
                           const farm::image::Image& input) {
  if (context.params == nullptr || context.models == nullptr) {
    return InvalidArgument("tone: params and models are required");
  }
  farm::image::ToneGrade preset;  // identity
  const std::string& tone = context.params->tone;
  const bool all_set = settings.count("white_balance_shift") && settings.count("saturation") &&
                       settings.count("contrast") && settings.count("strength");
  if (!tone.empty() && !all_set) {
    if (context.models->tones_yaml.empty()) {
      return InvalidArgument("tone: the render's tone '" + tone +
                             "' needs a tones.yaml for the settings the stage does not give");
    }
    StatusOr<farm::image::ToneGrade> loaded = LoadToneGrade(context.models->tones_yaml, tone);
    if (!loaded.ok()) return loaded.status().WithContext("tone");
    preset = *loaded;
  }
  SettingsReader s("tone", settings);
  farm::image::ToneGrade grade;
  FARM_ASSIGN_OR_RETURN(grade.white_balance_shift,
                        s.Number("white_balance_shift", preset.white_balance_shift, -5000, 5000));
  FARM_ASSIGN_OR_RETURN(grade.saturation, s.Number("saturation", preset.saturation, 0, 3));
  FARM_ASSIGN_OR_RETURN(grade.contrast, s.Number("contrast", preset.contrast, 0, 3));
  FARM_ASSIGN_OR_RETURN(grade.strength, s.Number("strength", preset.strength, 0, 1));
  FARM_RETURN_IF_ERROR(s.Finish());
  StageRun run;
  run.applied = s.applied();
  run.applied["tone"] = tone;
  StatusOr<farm::image::Image> out = farm::image::ApplyToneGrade(ToRgb(input), grade);
  if (!out.ok()) return out.status().WithContext("tone");
  run.image = std::move(*out);
  return run;
}

}  // namespace farm::pipeline
