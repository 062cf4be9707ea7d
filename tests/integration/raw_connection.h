// Test support: connections to the gateway below gRPC, to try what a gRPC client would never
// send: a TCP connection that never starts TLS, a TLS version the gateway refuses, and the
// HTTP/2 SETTINGS the server announces.
#ifndef ONCEONLY_TESTS_INTEGRATION_RAW_CONNECTION_H_
#define ONCEONLY_TESTS_INTEGRATION_RAW_CONNECTION_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "onceonly/config/v1/config.pb.h"

namespace onceonly {

// Opens a TCP connection to localhost:`port`, sends nothing, and waits up to `wait` for the
// server to close it. True if it did (EOF or reset), false if it was still open.
absl::StatusOr<bool> ServerClosesAnIdleConnection(int port, absl::Duration wait);

// Tries a TLS handshake with `tls`'s client certificate, offering TLS versions up to
// `max_version` (e.g. TLS1_1_VERSION). OK if the handshake completed, else the error.
absl::Status TlsHandshake(int port, const config::v1::TlsFiles& tls, int max_version);

// Opens mTLS with ALPN h2, sends the HTTP/2 preface and an empty SETTINGS frame, and returns
// the settings of the server's first SETTINGS frame (identifier -> value).
absl::StatusOr<std::map<uint16_t, uint32_t>> ServerHttp2Settings(int port,
                                                                 const config::v1::TlsFiles& tls);

}  // namespace onceonly

#endif  // ONCEONLY_TESTS_INTEGRATION_RAW_CONNECTION_H_
