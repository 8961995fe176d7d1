// farmctl score IMAGE --identity NAME [--render RENDER_ID]: how much the faces in an image
// look like an identity. Embeds IMAGE with `farm-agent faces embed`, scores its best face
// against the identity's photo descriptors with both metrics (farm/faceid/face_score.h):
// cosine similarity (the ranking metric, higher is better) and Euclidean distance (lower
// is better, < 0.6 same person), and prints them. With --render the two rows go into the
// scores table for that render (idempotent per render, identity, metric and model
// version); an image without a face stores similarity NULL with the reason.
// An identity embedded with another descriptor model than the agent's is refused: their
// descriptors live in different spaces.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `score`; it sets `exit_code` when it runs. `options` and `exit_code` must
// outlive app.parse().
void AddScoreCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
