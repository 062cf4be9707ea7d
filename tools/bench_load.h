// `onceonly bench load`: a load generator for the gateway and the registries, over mTLS, on
// gRPC's callback API (no thread per call).
//   - closed loop: N calls in flight, each answer starting the next;
//   - open loop: calls started at a fixed rate whatever the answers; latency is measured
//     from the instant each call was due, not when it went out, so that a stalled server
//     cannot hide its stall by delaying the calls that would have measured it (coordinated
//     omission).
// Reports throughput and p50/p90/p99/p99.9 latency, as text and as JSON.
#ifndef ONCEONLY_TOOLS_BENCH_LOAD_H_
#define ONCEONLY_TOOLS_BENCH_LOAD_H_

#include <string>
#include <vector>

namespace onceonly {

// `args` after "bench": ["load", flags...]. Returns the process exit code: 0 if some calls
// succeeded, 1 if none did, 2 for bad flags.
int BenchCommand(const std::vector<std::string>& args);

}  // namespace onceonly

#endif  // ONCEONLY_TOOLS_BENCH_LOAD_H_
