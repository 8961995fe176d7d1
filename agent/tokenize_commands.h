// farm-agent tokenize: the SD 1.5 text encoder's token ids of each TEXT, with no model:
//   farm-agent tokenize [--tokenizer DIR] [--json] TEXT...
// The bundled CLIP vocabulary unless DIR (vocab.json + merges.txt) is given. Per TEXT, with
// --json one object per line:
//   {"text":..., "ids":[...], "input_ids":[...]}
// `ids`: the BPE ids without <|startoftext|>/<|endoftext|>, full length (front ends split
// more than 75 into chunks); `input_ids`: the 77 ids SD feeds the text encoder,
// bos + ids[:75] + eos, padded with eos (49407). Without --json the same as text lines.
// Exit codes: 0 done, 1 the tokenizer could not be loaded, 2 usage.
#pragma once

#include <CLI/CLI.hpp>

namespace farm::agent {

// Registers `tokenize` on `app`. After parsing, RunTokenizeCommand runs it and returns the
// exit code, or -1 when `tokenize` was not given.
void AddTokenizeCommand(CLI::App& app);
int RunTokenizeCommand(const CLI::App& app);

}  // namespace farm::agent
