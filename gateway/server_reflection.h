// gRPC server reflection (grpc.reflection.v1alpha), on or off for one server.
//
// grpc::reflection::InitProtoReflectionServerBuilderPlugin() registers a process-wide plugin
// that every ServerBuilder made afterwards adds (the in-process remote registry calls it), so
// not calling it does not turn reflection off. This option, set on a builder, decides for the
// server it builds: it removes every reflection plugin the builder was given and, if asked,
// adds one.
#ifndef ONCEONLY_GATEWAY_SERVER_REFLECTION_H_
#define ONCEONLY_GATEWAY_SERVER_REFLECTION_H_

#include <grpcpp/impl/server_builder_option.h>

#include <memory>

namespace onceonly {

std::unique_ptr<grpc::ServerBuilderOption> ServerReflectionOption(bool enabled);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_SERVER_REFLECTION_H_
