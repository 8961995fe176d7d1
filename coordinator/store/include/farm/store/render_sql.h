// SQL expressions over a render row `r` (FROM renders r) for readers that query the
// database directly (the query catalogue, reports, the nightly gate, adaptive search).
//
// A render row keeps only its own members in params_json when it points at a
// render_settings row holding the members its sweep repeats (0014_render_settings.sql);
// rows stored before hold their whole record. These expressions read both forms.
#pragma once

namespace farm::store {

// The render's whole record as a JSON object. Its keys are not in canonical order
// (parse it, or json_extract from it); the canonical bytes come from Store::GetRender.
inline constexpr char kRenderRecordSql[] =
    "coalesce((SELECT json_patch(settings_json, r.params_json) FROM render_settings "
    "WHERE id = r.settings_id), r.params_json)";

// A JSON object holding every member outside the render's own (seed, sampler,
// scheduler, steps, cfg, clip_skip, denoise, width, height): read the prompts, engine,
// stages, LoRAs or ControlNets from it without building the whole record.
inline constexpr char kRenderSharedSql[] =
    "coalesce((SELECT settings_json FROM render_settings WHERE id = r.settings_id), "
    "r.params_json)";

}  // namespace farm::store
