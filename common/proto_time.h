// google.protobuf.Timestamp <-> absl::Time, to the microsecond; Duration -> absl::Duration.
#ifndef ONCEONLY_COMMON_PROTO_TIME_H_
#define ONCEONLY_COMMON_PROTO_TIME_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace onceonly {

inline absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

inline google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t micros = absl::ToUnixMicros(t);
  // Floor division, so that times before 1970 keep nanos in [0, 1e9).
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rest * 1000));
  return ts;
}

// "2026-01-01T00:00:00Z": how records, receipts and messages write a time.
inline std::string Rfc3339(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(ts), absl::UTCTimeZone());
}

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_PROTO_TIME_H_
