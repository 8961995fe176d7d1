// LoRA support: read a LoRA or LoCon file (kohya, diffusers or PEFT naming), find the model
// weight each of its modules targets, merge several LoRAs into the weights in place and
// restore them exactly.
//
//   FARM_ASSIGN_OR_RETURN(LoraFile face, ReadLoraFile("face.safetensors"));
//   FARM_ASSIGN_OR_RETURN(MergedLoras merged, MergeLoras(weights, {{&face, 0.8}}));
//   ... render with `weights` ...
//   merged.Unmerge();  // or let `merged` go out of scope
#pragma once

#include "farm/sd/lora_file.h"
#include "farm/sd/lora_key_map.h"
#include "farm/sd/lora_merge.h"
#include "farm/sd/lora_naming.h"
