#include "allow_list_reload.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>

#include "farm/transport/curve_keys.h"

namespace farm::farmd {
namespace {

volatile std::sig_atomic_t g_hangup = 0;
void OnHangup(int) { g_hangup = 1; }

}  // namespace

AllowListReloader::AllowListReloader(std::string allow_keys_file, Coordinator& coordinator,
                                     transport::AgentLink& link)
    : file_(std::move(allow_keys_file)), coordinator_(coordinator), link_(link) {
  g_hangup = 0;
  std::signal(SIGHUP, OnHangup);
  thread_ = std::thread([this] { Watch(); });
}

AllowListReloader::~AllowListReloader() {
  std::signal(SIGHUP, SIG_IGN);
  stop_.store(true);
  thread_.join();
}

void AllowListReloader::Watch() {
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_hangup == 0) continue;
    g_hangup = 0;
    Reload();
  }
}

void AllowListReloader::Reload() {
  auto keys = transport::ReadAllowListFile(file_);
  if (!keys.ok()) {
    spdlog::error("SIGHUP: allow-list not reloaded, the current one stays: {}",
                  keys.status().ToString());
    return;
  }
  coordinator_.Post([this, keys = std::move(*keys)] {
    Status replaced = link_.ReplaceAllowedClientKeys(keys);
    if (replaced.ok()) {
      spdlog::info("SIGHUP: allow-list {} reloaded: {} agent keys", file_, keys.size());
    } else {
      spdlog::error("SIGHUP: allow-list {} not applied, the current one stays: {}", file_,
                    replaced.ToString());
    }
  });
}

}  // namespace farm::farmd
