// image_pose_preview: renders every pose of the library as the ControlNet control map
// the farm would use and writes <out_dir>/<name>.png (docs/poses/ holds the committed
// previews; see docs/poses.md).
//
//   image_pose_preview experiments/poses docs/poses [WIDTH HEIGHT]   (default 512 768)
#include <cstdlib>
#include <iostream>
#include <string>

#include "farm/image/png_io.h"
#include "farm/image/pose.h"
#include "farm/image/pose_render.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5) {
    std::cerr << "usage: " << argv[0] << " POSES_DIR OUT_DIR [WIDTH HEIGHT]\n";
    return 2;
  }
  const std::string poses_dir = argv[1];
  const std::string out_dir = argv[2];
  const int width = argc == 5 ? std::atoi(argv[3]) : 512;
  const int height = argc == 5 ? std::atoi(argv[4]) : 768;
  farm::StatusOr<std::vector<std::string>> names = farm::image::ListPoses(poses_dir);
  if (!names.ok()) {
    std::cerr << names.status().ToString() << "\n";
    return 1;
  }
  int failures = 0;
  for (const std::string& name : *names) {
    farm::StatusOr<farm::image::Pose> pose = farm::image::LoadPose(poses_dir, name);
    if (!pose.ok()) {
      std::cerr << pose.status().ToString() << "\n";
      ++failures;
      continue;
    }
    farm::StatusOr<farm::image::PoseMap> map = farm::image::RenderPoseMap(*pose, width, height);
    if (!map.ok()) {
      std::cerr << name << ": " << map.status().ToString() << "\n";
      ++failures;
      continue;
    }
    const std::string path = out_dir + "/" + name + ".png";
    farm::Status written = farm::image::WritePngFile(path, map->image);
    if (!written.ok()) {
      std::cerr << written.ToString() << "\n";
      ++failures;
      continue;
    }
    std::cout << path << "\n";
  }
  return failures == 0 ? 0 : 1;
}
