#include "gateway/server_reflection.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include <algorithm>
#include <string>
#include <vector>

namespace onceonly {
namespace {

class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}

  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}

  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    auto own = std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = own->name();
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [&](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return plugin->name() == name;
                                  }),
                   plugins->end());
    if (enabled_) plugins->push_back(std::move(own));
  }

 private:
  const bool enabled_;
};

}  // namespace

std::unique_ptr<grpc::ServerBuilderOption> ServerReflectionOption(bool enabled) {
  return std::make_unique<ReflectionOption>(enabled);
}

}  // namespace onceonly
